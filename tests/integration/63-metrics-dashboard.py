"""etc/grafana-dashboard.json is valid JSON and graphs only what
routingd exports: every metric name in a panel's expr, a template
query, or an expr of etc/routingd-alerts.yml is a series name of a live
daemon's /metrics (histograms by their _bucket, _sum and _count), with
Prometheus's own "up" the one exception in the alerts.  A dashboard
that graphs a renamed or missing metric fails here."""

import json
import os
import re

import rtd
import wsraw

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(rtd.__file__)))))
DASHBOARD = os.path.join(TOP, "etc", "grafana-dashboard.json")
ALERTS = os.path.join(TOP, "etc", "routingd-alerts.yml")

IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
KEYWORDS = {"by", "without", "and", "or", "unless", "on", "ignoring",
            "group_left", "group_right", "offset", "bool", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)   # strings
    e = re.sub(r"\{[^}]*\}", "", e)                 # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)"
               r"\s*\([^)]*\)", "", e)              # label lists
    names = set()
    for m in IDENT.finditer(e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0) in KEYWORDS:
            continue                                # a function, a word
        if m.start() > 0 and (e[m.start() - 1].isdigit() or
                              e[m.start() - 1] == "."):
            continue                                # 0.99, 5m, 1e3
        names.add(m.group(0))
    return names


def exported(d):
    st, _, body = d.get("/metrics")
    rtd.check(st == 200, "GET /metrics answers 200")
    return {re.split(r"[{ ]", line, 1)[0]
            for line in body.decode().splitlines()
            if line and not line.startswith("#")}


def dashboard_exprs(doc):
    exprs = []
    for p in doc["panels"]:
        if p.get("type") == "row":
            continue
        rtd.check(p.get("targets"), "panel %r has targets" % p.get("title"))
        exprs += [t["expr"] for t in p["targets"]]
    for v in doc.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        m = re.match(r"label_values\((.*),\s*[a-z_]+\)$", q or "")
        if m:
            exprs.append(m.group(1))
    return exprs


def alert_exprs():
    with open(ALERTS) as f:
        text = f.read()
    exprs = re.findall(r"^\s+expr:\s*(.+)$", text, re.M)
    names = re.findall(r"^\s+- alert:\s*(\S+)", text, re.M)
    rtd.check(len(exprs) == len(names) >= 5,
              "the alerts file has an expr per alert (%d alerts: %s)"
              % (len(names), names))
    return exprs


def test():
    with open(DASHBOARD) as f:
        doc = json.load(f)
    rtd.check(doc.get("title") and doc.get("panels"),
              "the dashboard is JSON with a title and panels")
    exprs = dashboard_exprs(doc)
    rtd.check(len(exprs) >= 20, "the dashboard has %d queries" % len(exprs))
    with rtd.api_daemon(rate_limit_per_user=0) as d:
        bob = rtd.token("bob")
        st, _ = d.send(rtd.token("alice"), rtd.envelope("bob"))
        rtd.check(st == 202, "a send is accepted (API series by route "
                  "and status appear once answered)")
        c = wsraw.connect(d.ws_port, bob, wait_empty=False)
        c.recv_json(5)
        c.close()
        have = exported(d)
    used = set()
    for e in exprs:
        names = metric_names(e)
        rtd.check(names, "dashboard query %r reads a metric" % e)
        missing = names - have
        rtd.check(not missing, "dashboard query %r: %s exported"
                  % (e, "all" if not missing else
                     "NOT %s" % sorted(missing)))
        used |= names
    for e in alert_exprs():
        names = metric_names(e)
        missing = names - have - {"up"}
        rtd.check(names and not missing, "alert expr %r: %s exported"
                  % (e, "all" if not missing else
                     "NOT %s" % sorted(missing)))
    for fam in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                "routingd_api_route_duration_seconds_bucket",
                "routingd_ws_op_duration_seconds_bucket",
                "routingd_store_commit_duration_seconds_bucket",
                "routingd_store_used_bytes", "routingd_build_info"):
        rtd.check(fam in used, "the dashboard graphs %s" % fam)


rtd.run(test)
