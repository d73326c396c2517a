"""The GitLab REST API v4 endpoints hullscan uses, as GitLab documents them.

docs.gitlab.com/api: issues (list, new, edit), notes (create), project uploads
(project_markdown_uploads), REST pagination (offset: X-Total, X-Total-Pages, X-Per-Page,
X-Page, X-Next-Page, X-Prev-Page and Link rel="prev/next/first/last") and status codes
(400 for missing or invalid parameters, 401 without a valid token, 403 for a token
without the `api` scope, 404 for an unknown project or issue, 422 when GitLab refuses
the content, 429 with Retry-After from the rate limiter).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.tickets.fakeserver import Request, Response

MAX_DESCRIPTION = 1_048_576


@dataclass
class Project:
    id: int
    path: str  # group/project
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    uploads: list[dict[str, Any]] = field(default_factory=list)


class FakeGitLab:
    """Projects with issues, behind token checks; `base_url` is set once the server runs."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        #: token -> scope ("api" may write, "read_api" may only read)
        self.tokens = (
            tokens if tokens is not None else {"glpat-good": "api", "glpat-read": "read_api"}
        )
        self.projects: dict[int, Project] = {}
        self.base_url = "http://gitlab.invalid"
        self._ids = itertools.count(1000)
        #: GitLab may refuse content (spam check): titles containing this get a 422
        self.refuse_titles_with: str | None = None

    def add_project(self, project_id: int, path: str) -> Project:
        project = Project(project_id, path)
        self.projects[project_id] = project
        return project

    def add_issue(self, project: Project, **fields: Any) -> dict[str, Any]:
        """An issue created by someone else (or an earlier run)."""
        iid = max(project.issues, default=0) + 1
        issue = self._issue(project, iid, fields.pop("title", f"issue {iid}"), **fields)
        project.issues[iid] = issue
        return issue

    # --- plumbing -------------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)?", request.path)
        if match is None:
            return Response(404, {"error": "404 Not Found"})
        scope = self._scope(request)
        if scope is None:
            return Response(401, {"message": "401 Unauthorized"})
        project = self._project(unquote(match.group(1)))
        if project is None:
            return Response(404, {"message": "404 Project Not Found"})
        rest = match.group(2) or ""
        if request.method != "GET" and scope != "api":
            return Response(
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than "
                    "provided by the access token.",
                    "scope": "api",
                },
            )
        routes: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", r"/issues", self._list),
            ("POST", r"/issues", self._create),
            ("PUT", r"/issues/(\d+)", self._edit),
            ("POST", r"/issues/(\d+)/notes", self._note),
            ("POST", r"/uploads", self._upload),
        ]
        for method, pattern, handler in routes:
            found = re.fullmatch(pattern, rest)
            if found and method == request.method:
                return handler(project, request, *found.groups())
        return Response(404, {"error": "404 Not Found"})

    def _scope(self, request: Request) -> str | None:
        token = request.headers.get("private-token")
        auth = request.headers.get("authorization", "")
        if token is None and auth.lower().startswith("bearer "):
            token = auth[7:]
        # a CI job token is not accepted by the issues API
        return self.tokens.get(token) if token is not None else None

    def _project(self, ident: str) -> Project | None:
        if ident.isdigit():
            return self.projects.get(int(ident))
        return next((p for p in self.projects.values() if p.path == ident), None)

    def _now(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _issue(self, project: Project, iid: int, title: str, **fields: Any) -> dict[str, Any]:
        now = self._now()
        labels = fields.get("labels") or []
        return {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": fields.get("description"),
            "state": fields.get("state", "opened"),
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "labels": list(labels),
            "confidential": bool(fields.get("confidential", False)),
            "author": {"id": 1, "username": "hullscan-bot", "name": "hullscan bot"},
            "web_url": f"{self.base_url}/{project.path}/-/issues/{iid}",
            "user_notes_count": 0,
        }

    # --- endpoints --------------------------------------------------------------------------

    def _list(self, project: Project, request: Request) -> Response:
        state = request.arg("state", "all")
        wanted = [x for x in (request.arg("labels") or "").split(",") if x]
        search = request.arg("search")
        issues = [
            i
            for i in sorted(project.issues.values(), key=lambda i: i["iid"])
            if (state == "all" or i["state"] == state)
            and all(label in i["labels"] for label in wanted)
            and (not search or search in i["title"] or search in (i["description"] or ""))
        ]
        if request.arg("sort", "desc") == "desc":
            issues.reverse()
        try:
            per_page = min(max(int(request.arg("per_page", "20") or 20), 1), 100)
            page = max(int(request.arg("page", "1") or 1), 1)
        except ValueError:
            return Response(400, {"error": "per_page is invalid"})
        total = len(issues)
        pages = max(1, -(-total // per_page))
        chunk = issues[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Per-Page": str(per_page),
            "X-Page": str(page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            url = f"{self.base_url}{request.path}?{urlencode({**query, 'page': number})}"
            return f'<{url}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < pages:
            links.append(link(page + 1, "next"))
        links.append(link(1, "first"))
        links.append(link(pages, "last"))
        headers["Link"] = ", ".join(links)
        return Response(200, chunk, headers)

    def _validate(self, data: dict[str, Any]) -> Response | None:
        description = data.get("description")
        if isinstance(description, str) and len(description) > MAX_DESCRIPTION:
            return Response(
                400,
                {
                    "message": {
                        "description": [f"is too long (maximum is {MAX_DESCRIPTION} characters)"]
                    }
                },
            )
        title = data.get("title")
        if self.refuse_titles_with and isinstance(title, str) and self.refuse_titles_with in title:
            return Response(
                422,
                {"message": "Your issue has been recognized as spam and has been discarded."},
            )
        return None

    @staticmethod
    def _labels(value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [x for x in str(value or "").split(",") if x]

    def _create(self, project: Project, request: Request) -> Response:
        data = request.data()
        if not data.get("title"):
            return Response(400, {"error": "title is missing"})
        refused = self._validate(data)
        if refused is not None:
            return refused
        iid = max(project.issues, default=0) + 1
        issue = self._issue(
            project,
            iid,
            data["title"],
            description=data.get("description"),
            labels=self._labels(data.get("labels")),
            confidential=data.get("confidential") in (True, "true"),
        )
        project.issues[iid] = issue
        return Response(201, issue)

    def _edit(self, project: Project, request: Request, iid: str) -> Response:
        issue = project.issues.get(int(iid))
        if issue is None:
            return Response(404, {"message": "404 Not found"})
        data = request.data()
        known = (
            "title",
            "description",
            "labels",
            "add_labels",
            "remove_labels",
            "state_event",
            "confidential",
        )
        if not any(k in data for k in known):
            return Response(
                400,
                {
                    "error": ", ".join(known)
                    + " are missing, at least one parameter must be provided"
                },
            )
        refused = self._validate(data)
        if refused is not None:
            return refused
        if "title" in data:
            issue["title"] = data["title"]
        if "description" in data:
            issue["description"] = data["description"]
        if "labels" in data:
            issue["labels"] = self._labels(data["labels"])
        if "state_event" in data:
            if data["state_event"] not in ("close", "reopen"):
                return Response(400, {"error": "state_event does not have a valid value"})
            issue["state"] = "closed" if data["state_event"] == "close" else "opened"
            issue["closed_at"] = self._now() if issue["state"] == "closed" else None
        issue["updated_at"] = self._now()
        return Response(200, issue)

    def _note(self, project: Project, request: Request, iid: str) -> Response:
        issue = project.issues.get(int(iid))
        if issue is None:
            return Response(404, {"message": "404 Not found"})
        body = request.data().get("body")
        if not body:
            return Response(400, {"error": "body is missing"})
        note = {
            "id": next(self._ids),
            "body": body,
            "author": {"id": 1, "username": "hullscan-bot"},
            "created_at": self._now(),
            "system": False,
            "noteable_id": issue["id"],
            "noteable_type": "Issue",
            "noteable_iid": issue["iid"],
        }
        project.notes.setdefault(issue["iid"], []).append(note)
        issue["user_notes_count"] += 1
        return Response(201, note)

    def _upload(self, project: Project, request: Request) -> Response:
        if "file" not in request.files:
            return Response(400, {"error": "file is missing"})
        filename, content = request.files["file"]
        secret = hashlib.md5(content + str(len(project.uploads)).encode()).hexdigest()
        is_image = filename.lower().endswith((".png", ".jpg", ".jpeg", ".gif"))
        alt = filename.rsplit(".", 1)[0] if is_image else filename
        url = f"/uploads/{secret}/{filename}"
        upload = {
            "id": len(project.uploads) + 1,
            "alt": alt,
            "url": url,
            "full_path": f"/-/project/{project.id}/uploads/{secret}/{filename}",
            "markdown": f"{'!' if is_image else ''}[{alt}]({url})",
        }
        project.uploads.append({**upload, "content": content})
        return Response(201, upload)
