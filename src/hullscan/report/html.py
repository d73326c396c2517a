"""A single self-contained HTML report for a person in a browser.

One file, no network at view time: CSS and JavaScript are inline and a Content Security
Policy forbids loading anything (so the report can be archived, mailed, opened offline).
Everything is rendered on the server side as plain HTML, so the report reads without
JavaScript too; the script only filters rows. It has:

- a header with the image, OS, digests, scan and DB times, and the gate verdict;
- counts per severity with an inline SVG bar chart (active findings; fixable share);
- filters: severity, fixable only, show suppressed, layer, free text (vulnerability id,
  alias, package, source package, purl). The filter state is kept in the URL fragment
  (`#sev=CRITICAL,HIGH&fixable=1&layer=2&q=curl`), so a filtered view can be linked;
- the findings table (highest severity first), each with the layer that installed it;
- a per-layer view: what each Dockerfile step brought in, with a button that filters the
  findings to that layer; and the full package list, folded.

All text from images and feeds is HTML-escaped; control characters are replaced.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable

from hullscan.model import Finding, Layer, Package, ScanReport, Severity
from hullscan.policy import gate, policy_outcome
from hullscan.report.base import (
    SEVERITIES_DESC,
    ReportOptions,
    image_name,
    layer_index,
    merged_warnings,
    os_label,
    package_sort_key,
    printable,
    scan_window,
    severity_counts,
    sorted_findings,
    truncate,
)
from hullscan.report.junit import gate_view
from hullscan.report.markdown import NO_FIX_LABELS
from hullscan.report.sarif import layer_command, primary_url

DEFAULT_FILENAME = "hullscan-report.html"

#: severity colours (WCAG AA contrast with the text colour chosen for each)
COLORS: dict[Severity, tuple[str, str]] = {
    Severity.CRITICAL: ("#a1001a", "#ffffff"),
    Severity.HIGH: ("#d9480f", "#ffffff"),
    Severity.MEDIUM: ("#f0a500", "#1f1f1f"),
    Severity.LOW: ("#1c6dd0", "#ffffff"),
    Severity.NEGLIGIBLE: ("#6b7785", "#ffffff"),
    Severity.UNKNOWN: ("#9aa3ad", "#1f1f1f"),
}

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_DESCRIPTION_LIMIT = 220

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --card:#fff;
  --accent:#0b5cad; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 1280px; margin: 0 auto; padding: 24px; }
header.top { background:#0d1b2a; color:#fff; padding: 20px 24px; }
header.top .inner { max-width:1280px; margin:0 auto; display:flex; gap:24px;
  justify-content:space-between; align-items:flex-start; flex-wrap:wrap; }
header.top h1 { margin:0 0 4px; font-size: 22px; word-break: break-all; }
header.top .tool { font-size:12px; letter-spacing:.08em; text-transform:uppercase;
  color:#9fb3c8; }
header.top dl { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; margin:10px 0 0;
  font-size:13px; color:#d8e1ea; }
header.top dt { color:#9fb3c8; } header.top dd { margin:0; word-break: break-all; }
.verdict { padding:10px 16px; border-radius:8px; font-weight:700; font-size:15px;
  white-space:nowrap; }
.verdict.failed { background:#a1001a; } .verdict.passed { background:#1a7f37; }
.verdict.none { background:#3b4b5c; font-weight:600; }
.verdict small { display:block; font-weight:400; font-size:12px; opacity:.9; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:16px 20px; margin:0 0 20px; }
section.card h2 { margin:0 0 12px; font-size:17px; }
.summary { display:grid; grid-template-columns: minmax(0,1.1fr) minmax(0,1fr); gap:24px; }
@media (max-width: 900px) { .summary { grid-template-columns: 1fr; } }
.counts { display:grid; grid-template-columns: repeat(3, 1fr); gap:10px; }
.count { border-radius:8px; padding:10px 12px; }
.count b { display:block; font-size:26px; line-height:1.1; }
.count span { font-size:12px; text-transform:uppercase; letter-spacing:.05em; }
.facts { display:flex; gap:18px; flex-wrap:wrap; margin-top:12px; color:var(--muted); }
.facts b { color:var(--fg); }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
.warn { background:#fff8e1; border:1px solid #f0c36d; border-radius:8px; padding:10px 14px;
  margin: 0 0 20px; }
.warn.eol { background:#ffebe9; border-color:#ff8182; font-weight:600; }
.warn ul { margin:4px 0 0; padding-left:20px; }
.filters { display:flex; flex-wrap:wrap; gap:10px 18px; align-items:center; margin-bottom:12px; }
.filters fieldset { border:0; padding:0; margin:0; display:flex; gap:6px; flex-wrap:wrap; }
.chip { display:inline-flex; align-items:center; gap:6px; border:1px solid var(--line);
  border-radius:999px; padding:3px 10px 3px 6px; cursor:pointer; user-select:none;
  background:#fff; }
.chip input { margin:0; }
.swatch { width:10px; height:10px; border-radius:2px; display:inline-block; }
.filters label.opt { display:inline-flex; gap:6px; align-items:center; cursor:pointer; }
.filters input[type=search] { min-width: 260px; padding:6px 10px; border:1px solid var(--line);
  border-radius:6px; font: inherit; }
.filters select { padding:5px 8px; border:1px solid var(--line); border-radius:6px; font:inherit; }
.shown { margin-left:auto; color:var(--muted); }
button.link { background:none; border:0; color:var(--accent); cursor:pointer; font:inherit;
  padding:0; text-decoration:underline; }
table { border-collapse: collapse; width:100%; }
th, td { text-align:left; padding:7px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted);
  background:#fafbfc; position: sticky; top: 0; }
td.mono, span.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size:12.5px; overflow-wrap:anywhere; }
td.ver, span.ver { white-space:nowrap; }
.scroll { overflow-x:auto; }
.sev { display:inline-block; min-width:86px; text-align:center; border-radius:4px;
  padding:1px 6px; font-size:11.5px; font-weight:700; letter-spacing:.03em; }
.desc { color:var(--muted); font-size:12.5px; margin-top:2px; }
tr.suppressed td { opacity:.6; }
tr.suppressed td.rule { opacity:1; }
.rule { font-size:12px; color:var(--muted); }
.fixed { color:#1a7f37; font-weight:600; }
.nofix { color:var(--muted); }
.layer-cell { font-size:12.5px; color:var(--muted); min-width:180px; max-width:280px;
  overflow-wrap:anywhere; }
td.rule-col { max-width:220px; overflow-wrap:anywhere; }
table.hide-rule .rule-col { display:none; }
td.nowrap { white-space:nowrap; }
.empty td { text-align:center; color:var(--muted); padding:24px; }
.minibar { display:flex; height:10px; width:160px; border-radius:3px; overflow:hidden;
  background:#eef1f4; }
.minibar i { display:block; height:100%; }
details > summary { cursor:pointer; font-weight:600; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:8px 0 24px; }
"""

JS = """
(function () {
  var SEVS = %(severities)s;
  var body = document.body;
  var rows = Array.prototype.slice.call(document.querySelectorAll('#findings tbody tr.finding'));
  var empty = document.getElementById('no-match');
  var q = document.getElementById('f-text');
  var fixable = document.getElementById('f-fixable');
  var suppressed = document.getElementById('f-suppressed');
  var layer = document.getElementById('f-layer');
  var shown = document.getElementById('shown');
  function sevBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input.f-sev'));
  }
  function state() {
    return {
      sev: sevBoxes().filter(function (b) { return b.checked; })
        .map(function (b) { return b.value; }),
      fixable: fixable.checked, suppressed: suppressed.checked, layer: layer.value,
      q: q.value.trim().toLowerCase()
    };
  }
  function apply(updateHash) {
    var s = state(), n = 0;
    rows.forEach(function (r) {
      var ok = s.sev.indexOf(r.getAttribute('data-sev')) >= 0
        && (!s.fixable || r.getAttribute('data-fixable') === '1')
        && (s.suppressed || r.getAttribute('data-suppressed') !== '1')
        && (!s.layer || r.getAttribute('data-layer') === s.layer)
        && (!s.q || r.getAttribute('data-text').indexOf(s.q) >= 0);
      r.hidden = !ok;
      if (ok) { n++; }
    });
    if (empty) { empty.hidden = n > 0; }
    document.getElementById('findings').classList.toggle('hide-rule', !s.suppressed);
    var total = rows.filter(function (r) {
      return s.suppressed || r.getAttribute('data-suppressed') !== '1';
    }).length;
    shown.textContent = 'Showing ' + n + ' of ' + total + ' findings';
    body.setAttribute('data-shown', String(n));
    if (updateHash && window.history && history.replaceState) {
      var parts = [];
      if (s.sev.length !== SEVS.length) { parts.push('sev=' + s.sev.join(',')); }
      if (s.fixable) { parts.push('fixable=1'); }
      if (s.suppressed) { parts.push('suppressed=1'); }
      if (s.layer) { parts.push('layer=' + encodeURIComponent(s.layer)); }
      if (s.q) { parts.push('q=' + encodeURIComponent(s.q)); }
      history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname);
    }
  }
  function fromHash() {
    var h = location.hash.replace(/^#/, '');
    if (!h) { return; }
    h.split('&').forEach(function (kv) {
      var i = kv.indexOf('='), k = i < 0 ? kv : kv.slice(0, i);
      var v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1));
      if (k === 'sev') {
        var want = v.toUpperCase().split(',');
        sevBoxes().forEach(function (b) { b.checked = want.indexOf(b.value) >= 0; });
      } else if (k === 'fixable') { fixable.checked = v === '1'; }
      else if (k === 'suppressed') { suppressed.checked = v === '1'; }
      else if (k === 'layer') { layer.value = v; }
      else if (k === 'q') { q.value = v; }
    });
  }
  document.getElementById('filters').addEventListener('input', function () { apply(true); });
  document.getElementById('f-reset').addEventListener('click', function () {
    sevBoxes().forEach(function (b) { b.checked = true; });
    fixable.checked = false; suppressed.checked = false; layer.value = ''; q.value = '';
    apply(true);
  });
  Array.prototype.forEach.call(document.querySelectorAll('button[data-show-layer]'), function (b) {
    b.addEventListener('click', function () {
      layer.value = b.getAttribute('data-show-layer');
      apply(true);
      document.getElementById('findings-card').scrollIntoView();
    });
  });
  fromHash();
  apply(false);
  body.setAttribute('data-ready', '1');
})();
"""


def _e(text: str) -> str:
    """Escaped, printable text for HTML content and attributes."""
    return html.escape(printable(text), quote=True)


def _sev(severity: Severity) -> str:
    bg, fg = COLORS[severity]
    return f'<span class="sev" style="background:{bg};color:{fg}">{severity.name}</span>'


def _layer_key(layer: Layer | None) -> str:
    """The filter value of a layer: its 1-based number (as the table report prints it)."""
    return str(layer.index + 1) if layer is not None else ""


def _layer_title(layer: Layer) -> str:
    command = layer_command(layer.created_by) or "(no history)"
    return f"#{layer.index + 1} {command}"


def _header(report: ScanReport, options: ReportOptions) -> str:
    artifact = report.inventory.artifact
    started, _ = scan_window(report, options)
    name = image_name(report)
    facts: list[tuple[str, str]] = [
        ("OS", os_label(report) or "not detected"),
        (
            "Source",
            f"{artifact.reference} ({artifact.kind})"
            if artifact.reference != name
            else artifact.kind,
        ),
        ("Platform", artifact.platform),
        ("Image ID", artifact.image_id),
        ("Manifest", artifact.manifest_digest),
        ("Scanned", started.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("DB built", report.db.built_at if report.db else ""),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v)
    return (
        '<header class="top"><div class="inner"><div>'
        f'<div class="tool">{_e(options.scanner_name)} vulnerability report</div>'
        f"<h1>{_e(name)}</h1><dl>{rows}</dl></div>{_verdict(report)}</div></header>"
    )


def _verdict(report: ScanReport) -> str:
    outcome = policy_outcome(report)
    if outcome is None or not outcome.policy.gating:
        return (
            '<div class="verdict none">No gate applied<small>no --fail-on threshold</small></div>'
        )
    view = gate_view(report)
    checks = [view.threshold] if view.gated else []
    if outcome.policy.fail_on_eol:
        checks.append("OS end of life")
    detail = _e("; ".join(checks))
    if gate(report, outcome.policy):
        count = len(view.failing)
        failing = f"{count} failing finding{'s' * (count != 1)} · " if count else ""
        return f'<div class="verdict failed">FAILED<small>{failing}{detail}</small></div>'
    return f'<div class="verdict passed">PASSED<small>{detail}</small></div>'


def _chart(active: tuple[Finding, ...]) -> str:
    """Horizontal bars per severity; the darker part of each bar is what has a fix."""
    counts = severity_counts(active)
    fixable = Counter(f.severity for f in active if f.fixed_version)
    top = max(counts.values()) or 1
    row_h, bar_x, bar_w = 26, 96, 300
    parts = []
    for i, (severity, count) in enumerate(counts.items()):
        y = i * row_h + 4
        bg, _ = COLORS[severity]
        width = round(bar_w * count / top)
        fix_w = round(bar_w * fixable.get(severity, 0) / top)
        parts.append(
            f'<text x="0" y="{y + 13}">{severity.label}</text>'
            f'<rect x="{bar_x}" y="{y}" width="{bar_w}" height="18" rx="3" fill="#eef1f4"/>'
            f'<rect x="{bar_x}" y="{y}" width="{width}" height="18" rx="3" fill="{bg}" '
            'fill-opacity="0.45"/>'
            f'<rect x="{bar_x}" y="{y}" width="{fix_w}" height="18" rx="3" fill="{bg}"/>'
            f'<text x="{bar_x + bar_w + 8}" y="{y + 13}">{count}'
            + (f" ({fixable[severity]} fixable)" if fixable.get(severity) else "")
            + "</text>"
        )
    height = len(counts) * row_h + 4
    return (
        f'<svg class="chart" role="img" aria-label="Active findings by severity" '
        f'width="100%" viewBox="0 0 520 {height}" preserveAspectRatio="xMinYMin meet">'
        + "".join(parts)
        + "</svg>"
    )


def _summary(report: ScanReport) -> str:
    active = report.active_findings
    counts = severity_counts(active)
    cards = "".join(
        f'<div class="count" style="background:{COLORS[s][0]};color:{COLORS[s][1]}">'
        f"<b>{n}</b><span>{s.label}</span></div>"
        for s, n in counts.items()
    )
    fixable = sum(1 for f in active if f.fixed_version)
    suppressed = len(report.findings) - len(active)
    facts = [
        f"<span><b>{len(active)}</b> active findings</span>",
        f"<span><b>{fixable}</b> fixable</span>",
        f"<span><b>{suppressed}</b> suppressed</span>",
        f"<span><b>{len(report.inventory.packages)}</b> packages</span>",
        f"<span><b>{len(report.inventory.artifact.layers)}</b> layers</span>",
    ]
    outcome = policy_outcome(report)
    if outcome is not None and outcome.dropped_below_min_severity:
        minimum = outcome.policy.min_severity
        facts.append(
            f"<span><b>{outcome.dropped_below_min_severity}</b> below "
            f"{minimum.name if minimum else '?'} not shown (--severity)</span>"
        )
    return (
        '<section class="card"><h2>Summary</h2><div class="summary">'
        f'<div><div class="counts">{cards}</div><div class="facts">{"".join(facts)}</div></div>'
        f"<div>{_chart(active)}</div></div></section>"
    )


def _warnings(report: ScanReport) -> str:
    warnings = merged_warnings(report)
    if not warnings:
        return ""
    eol = [w for w in warnings if "end of life" in w]
    rest = [w for w in warnings if w not in eol]
    out = "".join(f'<div class="warn eol">{_e(w)}</div>' for w in eol)
    if rest:
        items = "".join(f"<li>{_e(w)}</li>" for w in rest)
        out += (
            f'<div class="warn"><b>Warnings ({len(rest)})</b> - the result may be '
            f"incomplete:<ul>{items}</ul></div>"
        )
    return out


def _search_text(finding: Finding) -> str:
    pkg = finding.package
    words = [finding.vuln_id, *finding.aliases, pkg.name, pkg.source_name, pkg.version, pkg.purl]
    return " ".join(w for w in words if w).lower()


def _finding_row(finding: Finding, layers: dict[str, Layer]) -> str:
    pkg = finding.package
    layer = layers.get(pkg.layer)
    url = primary_url(finding)
    vuln = _e(finding.vuln_id)
    if url.startswith(("https://", "http://")):
        vuln = f'<a href="{_e(url)}" rel="noopener noreferrer" target="_blank">{vuln}</a>'
    aliases = [a for a in finding.aliases if a != finding.vuln_id]
    if aliases:
        vuln += f' <span class="rule">({_e(", ".join(aliases))})</span>'
    description = " ".join(finding.description.split())
    if description:
        vuln += (
            f'<div class="desc" title="{_e(description)}">'
            f"{_e(truncate(description, _DESCRIPTION_LIMIT))}</div>"
        )
    if finding.fixed_version:
        fixed = f'<span class="fixed mono ver">{_e(finding.fixed_version)}</span>'
    else:
        fixed = f'<span class="nofix">{_e(NO_FIX_LABELS[finding.status])}</span>'
    package = _e(pkg.name)
    if pkg.source_name and pkg.source_name != pkg.name:
        package += f'<div class="desc">from {_e(pkg.source_name)}</div>'
    layer_cell = _e(truncate(_layer_title(layer), 60)) if layer is not None else "-"
    classes = "finding suppressed" if finding.suppressed else "finding"
    rule = (
        f'<td class="rule rule-col">{_e(finding.suppressed_by)}</td>'
        if finding.suppressed
        else '<td class="rule-col"></td>'
    )
    attrs = (
        f'class="{classes}" data-sev="{finding.severity.name}" '
        f'data-fixable="{"1" if finding.fixed_version else "0"}" '
        f'data-suppressed="{"1" if finding.suppressed else "0"}" '
        f'data-layer="{_layer_key(layer)}" data-text="{_e(_search_text(finding))}"'
    )
    hidden = " hidden" if finding.suppressed else ""
    return (
        f"<tr {attrs}{hidden}><td>{_sev(finding.severity)}</td><td>{vuln}</td>"
        f'<td>{package}</td><td class="mono ver">{_e(pkg.version)}</td><td>{fixed}</td>'
        f'<td class="layer-cell">{layer_cell}</td>{rule}</tr>'
    )


def _filters(report: ScanReport) -> str:
    counts = Counter(f.severity for f in report.active_findings)
    chips = "".join(
        f'<label class="chip"><input type="checkbox" class="f-sev" value="{s.name}" checked>'
        f'<span class="swatch" style="background:{COLORS[s][0]}"></span>{s.label} '
        f"({counts.get(s, 0)})</label>"
        for s in SEVERITIES_DESC
    )
    options = '<option value="">All layers</option>' + "".join(
        f'<option value="{_layer_key(layer)}">{_e(truncate(_layer_title(layer), 50))}</option>'
        for layer in sorted(report.inventory.artifact.layers, key=lambda x: x.index)
    )
    return (
        '<form class="filters" id="filters" onsubmit="return false">'
        f'<fieldset aria-label="Severity">{chips}</fieldset>'
        '<label class="opt"><input type="checkbox" id="f-fixable"> Fixable only</label>'
        '<label class="opt"><input type="checkbox" id="f-suppressed"> Show suppressed</label>'
        f'<select id="f-layer" aria-label="Layer">{options}</select>'
        '<input type="search" id="f-text" placeholder="Filter: CVE, package, purl…" '
        'aria-label="Filter text">'
        '<button type="button" class="link" id="f-reset">Reset</button>'
        f'<span class="shown" id="shown">Showing {len(report.active_findings)} of '
        f"{len(report.active_findings)} findings</span></form>"
    )


def _findings(report: ScanReport) -> str:
    layers = layer_index(report)
    rows = "".join(_finding_row(f, layers) for f in sorted_findings(report.findings))
    message = (
        "No vulnerabilities found." if not report.findings else "No finding matches the filters."
    )
    empty_hidden = " hidden" if report.active_findings else ""
    return (
        '<section class="card" id="findings-card"><h2>Findings</h2>'
        f"{_filters(report)}"
        '<div class="scroll"><table id="findings" class="hide-rule"><thead><tr>'
        "<th>Severity</th><th>Vulnerability</th><th>Package</th><th>Installed</th>"
        '<th>Fixed</th><th>Layer</th><th class="rule-col">Suppressed by</th>'
        f'</tr></thead><tbody>{rows}<tr class="empty" id="no-match"{empty_hidden}>'
        f'<td colspan="7">{message}</td></tr></tbody></table></div></section>'
    )


def _minibar(findings: Iterable[Finding]) -> str:
    counts = severity_counts(findings)
    total = sum(counts.values())
    if not total:
        return '<span class="rule">none</span>'
    parts = "".join(
        f'<i style="width:{100 * n / total:.1f}%;background:{COLORS[s][0]}" '
        f'title="{s.label}: {n}"></i>'
        for s, n in counts.items()
        if n
    )
    detail = ", ".join(f"{n} {s.label.lower()}" for s, n in counts.items() if n)
    return f'<div class="minibar">{parts}</div><div class="rule">{_e(detail)}</div>'


def _layers(report: ScanReport) -> str:
    layers = sorted(report.inventory.artifact.layers, key=lambda x: x.index)
    if not layers:
        return ""
    packages: dict[str, list[Package]] = {}
    for pkg in report.inventory.packages:
        packages.setdefault(pkg.layer, []).append(pkg)
    findings: dict[str, list[Finding]] = {}
    for finding in report.active_findings:
        findings.setdefault(finding.package.layer, []).append(finding)
    rows = []
    for layer in layers:
        mine = sorted(packages.get(layer.diff_id, []), key=package_sort_key)
        listed = ", ".join(f"{p.name} {p.version}" for p in mine[:40])
        if len(mine) > 40:
            listed += f", … ({len(mine) - 40} more)"
        package_cell = (
            f"<details><summary>{len(mine)} packages</summary>"
            f'<div class="desc">{_e(listed)}</div></details>'
            if mine
            else '<span class="rule">0 packages</span>'
        )
        active = findings.get(layer.diff_id, [])
        button = (
            f'<button type="button" class="link" data-show-layer="{_layer_key(layer)}">'
            "show findings</button>"
            if active
            else ""
        )
        rows.append(
            f"<tr><td>#{layer.index + 1}</td>"
            f'<td class="mono">{_e(layer_command(layer.created_by) or "(no history)")}'
            f'<div class="desc">{_e(layer.diff_id)}</div></td>'
            f'<td class="nowrap">{package_cell}</td><td>{_minibar(active)}</td>'
            f'<td class="nowrap">{button}</td></tr>'
        )
    return (
        '<section class="card"><h2>Layers</h2><table><thead><tr><th>#</th>'
        "<th>Created by</th><th>Packages</th><th>Active findings</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _packages(report: ScanReport) -> str:
    layers = layer_index(report)
    rows = []
    for pkg in sorted(report.inventory.packages, key=package_sort_key):
        layer = layers.get(pkg.layer)
        source = pkg.source_name if pkg.source_name and pkg.source_name != pkg.name else ""
        rows.append(
            f'<tr><td>{_e(pkg.name)}</td><td class="mono ver">{_e(pkg.version)}</td>'
            f"<td>{_e(pkg.type.value)}</td><td>{_e(pkg.arch)}</td><td>{_e(source)}</td>"
            f"<td>{_e(f'#{layer.index + 1}') if layer else ''}</td>"
            f'<td class="mono">{_e(pkg.purl)}</td></tr>'
        )
    return (
        f'<section class="card"><details><summary>All packages ({len(rows)})</summary>'
        "<table><thead><tr><th>Name</th><th>Version</th><th>Type</th><th>Arch</th>"
        "<th>Source</th><th>Layer</th><th>purl</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details></section>"
    )


def render(report: ScanReport, options: ReportOptions) -> str:
    """The whole HTML document."""
    _, finished = scan_window(report, options)
    title = f"{image_name(report)} - {options.scanner_name} report"
    script = JS % {"severities": "[" + ",".join(f'"{s.name}"' for s in SEVERITIES_DESC) + "]"}
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>"
        f"{_header(report, options)}<main>{_warnings(report)}{_summary(report)}"
        f"{_findings(report)}{_layers(report)}{_packages(report)}</main>"
        f"<footer>{_e(options.scanner_name)} {_e(options.scanner_version)} · generated "
        f"{finished.strftime('%Y-%m-%d %H:%M:%S UTC')} · self-contained: works offline</footer>"
        f"<script>{script}</script></body></html>\n"
    )
