"""The call center's report on the admin site: a month's or a fiscal year's KPIs with their
definitions, charts by hour and by topic, the FAQ entries' uses; as a page, a PDF and a CSV."""

from __future__ import annotations

from flask import abort, render_template, request

from appliance import clock
from appliance.csvfile import CSV_ENCODINGS
from web.admin import charts, desk_report, printing
from web.admin.access import current_user
from web.admin.views_reports import csv_type, download
from web.forms import arg_integer, arg_month


def _period():
    """(figures, label, month "YYYY-MM" or "", fiscal year or None) from ?month= or ?year=."""
    today = clock.today()
    if request.args.get("year"):
        year = arg_integer("year", 0, 2000, 2100) or abort(404)
        months = desk_report.fiscal_months(year)
        start = desk_report.month_period(*months[0])[0]
        end = desk_report.month_period(*months[-1])[1]
        return desk_report.figures(start, end), f"{year}年度（{year}年4月〜{year + 1}年3月）", "", year
    year, month = (arg_month("month") or abort(404)) if request.args.get("month") else (today.year, today.month)
    return desk_report.figures(*desk_report.month_period(year, month)), f"{year}年{month}月", f"{year}-{month:02d}", None


def _tables():
    figures, label, month, year = _period()
    title, subtitle, tables = desk_report.tables(figures, label)
    if year is not None:
        t = desk_report.texts()
        tables.insert(1, (t["year.heading"], list(t["year.columns"]), desk_report.year_rows(year)))
    return figures, title, subtitle, tables, month, year


def report_page():
    figures, title, subtitle, tables, month, year = _tables()
    hours = [f"{h}時" for h in range(7, 21)]
    by_hour = charts.bar_chart("時間帯別の入電と応答", hours, [
        ("応答", [figures.by_hour[h]["answered"] for h in range(7, 21)], "answered"),
        ("応答できなかった", [figures.by_hour[h]["offered"] - figures.by_hour[h]["answered"] for h in range(7, 21)],
         "missed")])
    topics = sorted(figures.by_topic.items(), key=lambda item: -item[1])[:12]
    by_topic = charts.bar_chart("分類別の問い合わせ", [name for name, _ in topics] or ["—"],
                                [("件数", [n for _, n in topics] or [0], "topic")])
    return render_template("admin/desk_report.html", title_text=title, subtitle=subtitle, tables=tables, month=month,
                           year=year, charts=[by_hour, by_topic], this_year=clock.today().year)


def report_pdf():
    _, title, subtitle, tables, month, year = _tables()
    data = printing.report_pdf(title, subtitle, tables, clock.now(), current_user().display_name)
    return download(data, f"call-center-{month or f'FY{year}'}.pdf", "application/pdf")


def report_csv():
    _, _, _, tables, month, year = _tables()
    encoding = request.args.get("encoding", "utf-8")
    if encoding not in CSV_ENCODINGS:
        abort(404)
    rows = []
    for heading, columns, body in tables:  # every table, one after the other, each under its heading
        rows += [[heading], columns, *body, []]
    return download(printing.table_csv([], rows, encoding), f"call-center-{month or f'FY{year}'}-{encoding}.csv",
                    csv_type(encoding))
