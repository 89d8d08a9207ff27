"""The admin index: the office's numbers at a glance, and the monthly report (screen, CSV, XLSX)."""

from __future__ import annotations

from flask import request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual, FilterInList
from flask_babel import format_date, format_decimal
from flask_babel import lazy_gettext as _l
from flask_security import current_user

from admin_views.base import SecureIndexView
from admin_views.referrals import EscalatedFilter, OverdueFilter, UnverifiedFilter, WaitingFilter
from admin_views.security import staff_scope
from slrt import clock, csvout, ops, reports, xlsxout
from slrt.access import unit_scope
from slrt.errors import ValidationError
from slrt.models.enums import DOMAIN_COLOURS, DOMAIN_LABELS, Domain

#: Hex values of the card colours on the chart (readable on white, printable in greyscale).
CHART_COLOURS = {"blue": "#2f6fb3", "pink": "#d95f93", "yellow": "#e0b000"}


def bar_chart(table) -> dict:
    """Geometry of a stacked bar chart, drawn as SVG by the template (no JavaScript, no CDN)."""
    width, height, left, bottom, top = 720, 240, 36, 28, 10
    months = list(table)
    peak = max([sum(row.values()) for row in table.values()] + [1])
    step = max(1, -(-peak // 4))
    scale_max = step * 4
    plot_h = height - bottom - top
    slot = (width - left) / max(len(months), 1)
    bars = []
    for i, month in enumerate(months):
        y = height - bottom
        for domain in Domain:
            value = table[month][domain]
            h = plot_h * value / scale_max
            y -= h
            if value:
                bars.append({"x": left + i * slot + slot * 0.15, "y": y, "w": slot * 0.7, "h": h,
                             "fill": CHART_COLOURS[DOMAIN_COLOURS[domain]],
                             "title": f"{format_date(month, 'MMM yyyy')} · {DOMAIN_LABELS[domain]}: {value}"})
    ticks = [{"y": height - bottom - plot_h * k / 4, "label": step * k} for k in range(5)]
    labels = [{"x": left + i * slot + slot / 2, "label": format_date(m, "MMM")} for i, m in enumerate(months)]
    return {"width": width, "height": height, "left": left, "bars": bars, "ticks": ticks, "labels": labels,
            "base": height - bottom}


def filtered_list(view, chosen, value: str) -> str:
    """The address of ``view``'s list with its first filter ``chosen(filter)`` accepts set to ``value``."""
    for index, flt in enumerate(view._filters or ()):
        if chosen(flt):
            return url_for(f"{view.endpoint}.index_view", **{f"flt1_{view.get_filter_arg(index, flt)}": value})
    raise LookupError(f"{view.endpoint} has no such filter")


def _column_filter(name: str, operation: type):
    """A filter on column ``name`` doing ``operation`` (its "not" variant, a subclass, comes later)."""
    return lambda flt: getattr(flt.column, "key", None) == name and isinstance(flt, operation)


def _shown(value) -> str:
    """A report cell on screen: numbers in the reader's language (2,5 in Indonesian), nothing for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return format_decimal(value, "0.0")
    return str(value)


class DashboardView(SecureIndexView):
    def tile_links(self) -> dict[str, str]:
        """Each tile opens the list already narrowed to what it counts."""
        views = {view.endpoint: view for view in self.admin._views}
        referral, case, follow_up, sms = (views[name] for name in ("referral", "case", "follow_up", "sms"))
        return {
            "open_cases": filtered_list(case, _column_filter("status", FilterInList), "open,in_progress"),
            "active_referrals": filtered_list(referral, lambda f: isinstance(f, WaitingFilter), "1"),
            "overdue_referrals": filtered_list(referral, lambda f: isinstance(f, OverdueFilter), "1"),
            "escalated_referrals": filtered_list(referral, lambda f: isinstance(f, EscalatedFilter), "1"),
            "unverified_referrals": filtered_list(referral, lambda f: isinstance(f, UnverifiedFilter), "1"),
            "open_follow_ups": filtered_list(follow_up, _column_filter("status", FilterEqual), "open"),
            "sms_pending": filtered_list(sms, _column_filter("status", FilterEqual), "pending"),
        }

    @expose("/")
    def index(self):
        scope = unit_scope(staff_scope())
        table = reports.cases_per_domain_per_month(scope)
        worker_at = ops.last_beat()
        return self.render(
            "admin/dashboard.html",
            headline=reports.headline(scope),
            agencies=reports.referrals_per_agency(scope),
            table=table,
            chart=bar_chart(table),
            sms=reports.sms_totals(scope),
            domains=[(d, DOMAIN_LABELS[d], DOMAIN_COLOURS[d]) for d in Domain],  # legend swatches: slrt.css
            worker_alive=ops.is_alive(),
            worker_at=clock.to_local(worker_at) if worker_at else None,
            tile_links=self.tile_links(),
        )

    def _report(self):
        """The report the query string asks for (``month``, or ``from`` and ``to``); or the page saying
        what is wrong with the question (400)."""
        args = {name: request.args.get(name, "") for name in ("month", "from", "to")}
        try:
            period = reports.parse_period(args["month"], args["from"], args["to"])
        except ValidationError as error:
            return None, (self.render("admin/report.html", report=None, error=error, args=args,
                                      this_month=f"{clock.today():%Y-%m}"), 400)
        return reports.monthly_report(period, unit_scope(staff_scope())), None

    @expose("/report/")
    def report(self):
        """The monthly report on screen, with its period picker and its downloads."""
        report, refused = self._report()
        if refused:
            return refused
        period = report.period
        query = ({"month": period.name} if period.is_month else
                 {"from": f"{period.first:%Y-%m-%d}", "to": f"{period.last:%Y-%m-%d}"})
        table = list(report.table())
        lines = [(line.section, [_shown(value) for value in row[1:]]) for line, row in zip(report.lines, table[1:],
                                                                                            strict=True)]
        return self.render("admin/report.html", report=report, error=None, query=query, header=table[0][1:],
                           lines=lines,
                           args={"month": f"{period.first:%Y-%m}" if period.is_month else "",
                                 "from": f"{period.first:%Y-%m-%d}", "to": f"{period.last:%Y-%m-%d}"},
                           this_month=f"{clock.today():%Y-%m}", section_label=reports.section_label,
                           unit_name=current_user.unit.name)

    @expose("/report.csv")
    def report_csv(self):
        """The report as CSV for Excel on Indonesian Windows: semicolons, decimal commas."""
        report, refused = self._report()
        if refused:
            return refused
        return csvout.response(report.table(), f"slrt-laporan-{report.period.name}.csv",
                               dialect=csvout.INDONESIAN_EXCEL)

    @expose("/report.xlsx")
    def report_xlsx(self):
        """The report as an Excel workbook: the figures, then what they mean."""
        report, refused = self._report()
        if refused:
            return refused
        about = report.about(current_user.unit.name, clock.now())
        return xlsxout.response([xlsxout.Sheet(str(_l("Report")), list(report.table())),
                                 xlsxout.Sheet(str(_l("Notes")), [[str(_l("SLRT monthly report")), ""], *about])],
                                f"slrt-laporan-{report.period.name}.xlsx")
