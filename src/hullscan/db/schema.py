"""The on-disk layout of the vulnerability DB: one SQLite file, versioned as a whole.

The DB is never migrated in place: a scanner that finds another SCHEMA_VERSION asks for a
rebuild (or a newer hullscan), so readers only ever deal with one layout.
"""

from __future__ import annotations

# 2: enrichment (CVSS, CWEs, KEV, EPSS) in per-source vulnerability rows; per-source state
# for fingerprint-based skipping.
SCHEMA_VERSION = 2

# PRAGMA application_id: lets the reader tell "some other SQLite file" from "a hullscan DB
# of another schema" and give the right advice. The bytes spell "HuLS".
APPLICATION_ID = 0x48754C53

# Tables are created empty; the indexes come after the bulk insert (CREATE INDEX over
# sorted data is several times faster than maintaining a B-tree row by row).
TABLES = """
CREATE TABLE meta (
    schema_version INTEGER NOT NULL,
    built_at       TEXT    NOT NULL  -- ISO-8601 UTC, e.g. 2024-05-01T12:00:00Z
);
CREATE TABLE sources (
    name        TEXT PRIMARY KEY,    -- feed name: debian, alpine, ...
    location    TEXT NOT NULL,       -- URL(s) or path(s) it was read from, ", "-separated
    fingerprint TEXT NOT NULL,       -- sha256:<hex> over the fetched files' bytes (NVD API:
                                     -- lastmod:<high-water mark>)
    fetched_at  TEXT NOT NULL,       -- ISO-8601 UTC: when the data was last known current
    advisories  INTEGER NOT NULL,    -- rows this feed put into `advisories`
    vulnerabilities INTEGER NOT NULL, -- rows this feed put into `vulnerabilities`
    state       TEXT NOT NULL        -- JSON object: validators (ETag, Last-Modified, sha256) per
                                     -- location and feed state (NVD high-water mark) that let
                                     -- the next build skip an unchanged source
);
CREATE TABLE advisories (
    namespace       TEXT NOT NULL,   -- debian:12, alpine:3.10, ... (hullscan.distros)
    package         TEXT NOT NULL,   -- the name advisories are keyed by (Debian: source package)
    vuln_id         TEXT NOT NULL,
    ranges          TEXT NOT NULL,   -- JSON list of {"introduced","fixed","last_affected"}
    status          TEXT NOT NULL,   -- model.FixStatus value
    fixed_version   TEXT NOT NULL,
    severity        INTEGER NOT NULL,  -- model.Severity value
    severity_source TEXT NOT NULL,
    source          TEXT NOT NULL    -- sources.name
);
-- One row per (id, feed that said something about it): rows of an unchanged feed can be
-- copied from the previous DB as they are, and the reader merges them (vendor feeds first,
-- in `sources` order, then enrichment feeds: see docs/db.md, Enrichment).
CREATE TABLE vulnerabilities (
    id              TEXT NOT NULL,
    source          TEXT NOT NULL,   -- sources.name
    description     TEXT NOT NULL,
    aliases         TEXT NOT NULL,   -- JSON list of ids
    urls            TEXT NOT NULL,   -- JSON list of URLs
    cvss            TEXT NOT NULL,   -- JSON list of {source, version, vector, score, severity}
    cwes            TEXT NOT NULL,   -- JSON list of CWE ids (CWE-79)
    published       TEXT NOT NULL,   -- ISO-8601 UTC, or ""
    nvd_severity    INTEGER NOT NULL, -- model.Severity value; 0 (UNKNOWN) unless NVD rated it
    kev_added       TEXT NOT NULL,   -- YYYY-MM-DD it entered CISA KEV, or ""
    epss            REAL,            -- FIRST EPSS probability, NULL when not scored
    epss_percentile REAL,
    PRIMARY KEY (id, source)
) WITHOUT ROWID;
"""

# Unique on purpose: a feed that says two things about one (namespace, package, id) is a
# parser bug, and the build fails instead of letting the matcher pick one at random. Its
# (namespace, package) prefix is the index every scan lookup uses.
INDEXES = """
CREATE UNIQUE INDEX advisories_by_package ON advisories (namespace, package, vuln_id);
"""
