"""``/metrics`` for Prometheus: the web app's requests (prometheus-flask-exporter) and the figures
of slrt.metrics (outbox, sending, runs), for the holder of SLRT_METRICS_TOKEN only.

Unset, the endpoint does not exist (404). Prometheus sends the token as a bearer credential
(``authorization: {credentials: ...}`` in its scrape config); the nginx site also keeps the
path off the public address. Requests are counted per endpoint, never per URL (ids stay out
of the labels), and the metrics, health and static paths are not counted.
"""

from __future__ import annotations

import functools
import hmac

from flask import Flask, Response, current_app, has_app_context, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_flask_exporter import PrometheusMetrics
from sqlalchemy.exc import SQLAlchemyError

from slrt import metrics
from slrt.extensions import db


def _token_only(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        token = current_app.config["SLRT_METRICS_TOKEN"]
        if not token:
            return Response("not found\n", 404, mimetype="text/plain")
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("unauthorized\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain")
        return view(*args, **kwargs)
    return guarded


class DomainCollector:
    """slrt.metrics' figures as Prometheus families, read at each scrape."""

    def describe(self):
        return []  # nothing to read when registered (no app context then)

    def collect(self):
        if not has_app_context():
            return
        up = GaugeMetricFamily("slrt_database_up", "1 when the database answered this scrape")
        try:
            figures = metrics.outbox_figures()
            ages = metrics.heartbeat_ages()
            runs = metrics.runs()
        except SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        messages = GaugeMetricFamily("slrt_outbox_messages", "Outbound SMS by status and gateway",
                                     labels=["status", "gateway"])
        for (status, gateway), count in sorted(figures.messages.items()):
            messages.add_metric([status, gateway], count)
        yield messages
        yield GaugeMetricFamily("slrt_outbox_waiting", "SMS waiting to be sent", value=figures.waiting)
        yield GaugeMetricFamily("slrt_outbox_oldest_due_seconds",
                                "How long the oldest SMS whose sending time has come has waited",
                                value=figures.oldest_due_seconds)
        alive = GaugeMetricFamily("slrt_heartbeat_age_seconds", "Seconds since a worker's or beat's last heartbeat",
                                  labels=["kind", "name"])
        for (kind, name), age in sorted(ages.items()):
            alive.add_metric([kind, name], age)
        yield alive
        latency = GaugeMetricFamily("slrt_sms_send_latency_seconds",
                                    "Seconds from queued to taken by the provider, last hour's SMS",
                                    labels=["quantile"])
        for quantile, seconds in sorted(figures.latency.items()):
            latency.add_metric([str(quantile)], seconds)
        yield latency
        yield GaugeMetricFamily("slrt_sms_sent_last_hour", "SMS taken by a provider in the last hour",
                                value=figures.sent_last_hour)
        errors = CounterMetricFamily("slrt_sms_provider_errors", "Failed sending attempts by gateway and code",
                                     labels=["gateway", "code"])
        for (gateway, code), count in sorted(figures.provider_errors.items()):
            errors.add_metric([gateway, code], count)
        yield errors
        yield GaugeMetricFamily("slrt_sending_paused", "1 while sending is paused (the provider refused the "
                                "account)", value=int(figures.paused))
        total = CounterMetricFamily("slrt_job_runs", "Runs by kind", labels=["job"])
        failed = CounterMetricFamily("slrt_job_failures", "Failed runs by kind", labels=["job"])
        last = GaugeMetricFamily("slrt_job_last_run_timestamp_seconds", "When the last run of a kind ended",
                                 labels=["job"])
        took = GaugeMetricFamily("slrt_job_last_run_seconds", "How long the last run of a kind took", labels=["job"])
        items = GaugeMetricFamily("slrt_job_last_run_items", "What the last run of a kind handled", labels=["job"])
        for run in runs:
            total.add_metric([run.name], run.runs)
            failed.add_metric([run.name], run.failures)
            last.add_metric([run.name], run.last_at.timestamp())
            took.add_metric([run.name], run.last_seconds)
            items.add_metric([run.name], run.last_items)
        yield from (total, failed, last, took, items)


def init_metrics(app: Flask) -> PrometheusMetrics:
    registry = CollectorRegistry()  # this app's: tests build many apps in one process
    registry.register(DomainCollector())
    exporter = PrometheusMetrics(app, path="/metrics", registry=registry, group_by="endpoint",
                                 metrics_decorator=_token_only,
                                 excluded_paths=["^/metrics", "^/healthz", "^/readyz", "^/static", "^/admin/static"])
    exporter.info("slrt_app_info", "The SLRT back office", version="1")
    return exporter
