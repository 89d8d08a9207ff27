// The SMS template editor's help, live: the chosen notice's name, default text and fields, the text
// filled with example values, its length and parts, and which characters make it UCS-2.
// Every word and rule comes from the page (#sms-notices, written by slrt/notices.py and slrt/gsm.py).
(function () {
  var data = document.getElementById("sms-notices");
  var field = document.querySelector("[data-sms-counter]");
  var help = document.getElementById("sms-help");
  if (!data || !field || !help) return;
  var info = JSON.parse(data.textContent);
  var key = document.getElementById("key");
  var language = document.getElementById("language");
  var part = function (name) { return help.querySelector('[data-help="' + name + '"]'); };
  var out = document.getElementById("sms-counter");
  field.parentNode.appendChild(help);

  function normalize(text) {
    var result = "";
    Array.from(text).forEach(function (ch) {
      result += Object.prototype.hasOwnProperty.call(info.look_alikes, ch) ? info.look_alikes[ch] : ch;
    });
    return result;
  }

  function fill(text) {
    return normalize(text).replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(info.examples, name) ? info.examples[name] : whole;
    });
  }

  function showNotice() {
    var notice = info.notices[key ? key.value : ""];
    if (!notice) return;
    var lang = language && language.value === "en" ? "en" : "id";
    part("name").textContent = notice.name;
    part("default").textContent = notice["default"][lang];
    var list = part("fields");
    list.textContent = "";
    notice.fields.forEach(function (f) {
      var item = document.createElement("li"), code = document.createElement("code");
      code.setAttribute("translate", "no");
      code.textContent = "{" + f[0] + "}";
      item.appendChild(code);
      item.appendChild(document.createTextNode(" \u2014 " + f[1]));
      list.appendChild(item);
    });
  }

  function count() {
    var text = fill(field.value), units = 0, outside = [], chars = Array.from(text);  // by character, not by half
    for (var i = 0; i < chars.length; i++) {
      var ch = chars[i];
      if (info.gsm7.indexOf(ch) >= 0) units += 1;
      else if (info.gsm7_extended.indexOf(ch) >= 0) units += 2;
      else if (outside.indexOf(ch) < 0) outside.push(ch);
    }
    var gsm = outside.length === 0;
    if (!gsm) units = text.length;  // UTF-16 code units, as slrt/gsm.py counts them
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var segments = units <= single ? 1 : Math.ceil(units / multi);
    part("preview").textContent = text;
    out.textContent = units + " / " + (segments === 1 ? single : segments * multi) + " \u00b7 " + segments +
      " SMS \u00b7 " + (gsm ? "GSM-7" : "UCS-2");
    out.style.color = segments > 1 || !gsm ? "#b00020" : "#11703a";
    var warning = part("ucs2");
    warning.hidden = gsm;
    warning.textContent = gsm ? "" : info.ucs2_warning.replace("%CHARS%", outside.map(function (ch) {
      return "\u201c" + ch + "\u201d";
    }).join(" "));
  }

  function listen(element, handler) {
    if (!element) return;
    if (window.jQuery) window.jQuery(element).on("change", handler);  // select2 reports through jQuery
    else element.addEventListener("change", handler);
  }

  field.addEventListener("input", count);
  listen(key, showNotice);
  listen(language, showNotice);
  showNotice();
  count();
})();
