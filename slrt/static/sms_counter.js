// Live character and segment count for SMS templates (same rules as slrt/gsm.py).
(function () {
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXT = "^{}\\[~]|€\f";
  var field = document.querySelector("[data-sms-counter]");
  var out = document.getElementById("sms-counter");
  if (!field || !out) return;
  field.parentNode.appendChild(out);
  function count() {
    var text = field.value, gsm = true, units = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (BASIC.indexOf(ch) >= 0) units += 1;
      else if (EXT.indexOf(ch) >= 0) units += 2;
      else { gsm = false; break; }
    }
    if (!gsm) units = text.length;
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var segments = units <= single ? 1 : Math.ceil(units / multi);
    out.textContent = units + " / " + (segments === 1 ? single : segments * multi) + " · " + segments +
      " SMS · " + (gsm ? "GSM-7" : "UCS-2 (!)");
    out.style.color = segments > 1 || !gsm ? "#b00020" : "#11703a";
  }
  field.addEventListener("input", count);
  count();
})();
