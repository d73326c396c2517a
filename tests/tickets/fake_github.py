"""The GitHub REST API endpoints hullscan uses, as GitHub documents them.

docs.github.com/rest: issues (list repository issues, which also returns pull requests;
create; update, with `state_reason`), issue comments (create), pagination by the Link
header (rel="next/last/first/prev"), the x-ratelimit-* headers on every answer, and the
documented errors: 401 "Bad credentials", 403 "Resource not accessible by integration"
for a token without issues write access, 404 "Not Found" for an unknown or invisible
repository, 410 when issues are disabled, 422 "Validation Failed" with field errors
(missing title, body over 65536 characters).
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tests.tickets.fakeserver import Request, Response

MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest"


@dataclass
class Repository:
    full_name: str
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    has_issues: bool = True


class FakeGitHub:
    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        #: token -> "write" or "read"
        self.tokens = tokens if tokens is not None else {"ghs_good": "write", "ghs_read": "read"}
        self.repos: dict[str, Repository] = {}
        self.base_url = "http://github.invalid"
        self.web_url = "https://github.example"
        self._ids = itertools.count(5000)
        self.remaining = 5000

    def add_repo(self, full_name: str) -> Repository:
        repo = Repository(full_name)
        self.repos[full_name] = repo
        return repo

    def add_issue(
        self, repo: Repository, *, pull_request: bool = False, **fields: Any
    ) -> dict[str, Any]:
        number = max(repo.issues, default=0) + 1
        issue = self._issue(repo, number, fields.pop("title", f"issue {number}"), **fields)
        if pull_request:
            issue["pull_request"] = {
                "url": f"{self.base_url}/repos/{repo.full_name}/pulls/{number}"
            }
        repo.issues[number] = issue
        return issue

    def rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(5000 - self.remaining),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def __call__(self, request: Request) -> Response:
        response = self._route(request)
        response.headers = {**self.rate_headers(), **response.headers}
        return response

    def _route(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        scope = self.tokens.get(token)
        if scope is None:
            return Response(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            )
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues(?:/(\d+))?(/comments)?", request.path)
        if match is None:
            return Response(
                404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            )
        repo = self.repos.get(match.group(1))
        if repo is None:
            return Response(
                404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            )
        if not repo.has_issues:
            return Response(
                410, {"message": "Issues are disabled for this repo", "documentation_url": DOCS}
            )
        if request.method != "GET" and scope != "write":
            return Response(
                403,
                {
                    "message": "Resource not accessible by integration",
                    "documentation_url": DOCS,
                    "status": "403",
                },
            )
        number = int(match.group(2)) if match.group(2) else None
        if number is None and match.group(3) is None:
            if request.method == "GET":
                return self._list(repo, request)
            if request.method == "POST":
                return self._create(repo, request)
        elif number is not None and match.group(3) is None and request.method == "PATCH":
            return self._update(repo, request, number)
        elif number is not None and match.group(3) and request.method == "POST":
            return self._comment(repo, request, number)
        return Response(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

    def _now(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _labels(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {"id": abs(hash(n)) % 10_000, "name": n, "color": "ededed", "default": False}
            for n in names
        ]

    def _issue(self, repo: Repository, number: int, title: str, **fields: Any) -> dict[str, Any]:
        now = self._now()
        return {
            "id": next(self._ids),
            "node_id": f"I_{number}",
            "url": f"{self.base_url}/repos/{repo.full_name}/issues/{number}",
            "html_url": f"{self.web_url}/{repo.full_name}/issues/{number}",
            "number": number,
            "state": fields.get("state", "open"),
            "state_reason": None,
            "title": title,
            "body": fields.get("body"),
            "user": {"login": "github-actions[bot]", "id": 41898282},
            "labels": self._labels(list(fields.get("labels") or [])),
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }

    def _list(self, repo: Repository, request: Request) -> Response:
        state = request.arg("state", "open")
        wanted = [x for x in (request.arg("labels") or "").split(",") if x]
        issues = [
            i
            for i in sorted(repo.issues.values(), key=lambda i: i["number"])
            if (state == "all" or i["state"] == state)
            and all(w in {label["name"] for label in i["labels"]} for w in wanted)
        ]
        if request.arg("direction", "desc") == "desc":
            issues.reverse()
        per_page = min(max(int(request.arg("per_page", "30") or 30), 1), 100)
        page = max(int(request.arg("page", "1") or 1), 1)
        pages = max(1, -(-len(issues) // per_page))
        chunk = issues[(page - 1) * per_page : page * per_page]
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def link(n: int, rel: str) -> str:
            return f'<{self.base_url}{request.path}?{urlencode({**query, "page": n})}>; rel="{rel}"'

        links = []
        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < pages:
            links += [link(page + 1, "next"), link(pages, "last")]
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, chunk, headers)

    def _invalid(self, field_name: str, code: str, message: str | None = None) -> Response:
        error: dict[str, Any] = {"resource": "Issue", "code": code, "field": field_name}
        if message:
            error["message"] = message
        return Response(
            422,
            {
                "message": "Validation Failed",
                "errors": [error],
                "documentation_url": DOCS,
                "status": "422",
            },
        )

    def _check(self, data: dict[str, Any]) -> Response | None:
        body = data.get("body")
        if isinstance(body, str) and len(body) > MAX_BODY:
            return self._invalid(
                "body", "custom", f"body is too long (maximum is {MAX_BODY} characters)"
            )
        return None

    def _create(self, repo: Repository, request: Request) -> Response:
        data = request.data()
        if not data.get("title"):
            return self._invalid("title", "missing_field")
        refused = self._check(data)
        if refused is not None:
            return refused
        number = max(repo.issues, default=0) + 1
        issue = self._issue(
            repo, number, data["title"], body=data.get("body"), labels=data.get("labels")
        )
        repo.issues[number] = issue
        return Response(201, issue)

    def _update(self, repo: Repository, request: Request, number: int) -> Response:
        issue = repo.issues.get(number)
        if issue is None:
            return Response(
                404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            )
        data = request.data()
        refused = self._check(data)
        if refused is not None:
            return refused
        for key in ("title", "body"):
            if key in data:
                issue[key] = data[key]
        if "labels" in data:
            issue["labels"] = self._labels(list(data["labels"]))
        if "state" in data:
            if data["state"] not in ("open", "closed"):
                return self._invalid("state", "invalid")
            issue["state"] = data["state"]
            issue["state_reason"] = (
                data.get("state_reason") if data["state"] == "closed" else "reopened"
            )
            issue["closed_at"] = self._now() if data["state"] == "closed" else None
        issue["updated_at"] = self._now()
        return Response(200, issue)

    def _comment(self, repo: Repository, request: Request, number: int) -> Response:
        issue = repo.issues.get(number)
        if issue is None:
            return Response(
                404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
            )
        body = request.data().get("body")
        if not body:
            return self._invalid("body", "missing_field")
        refused = self._check(request.data())
        if refused is not None:
            return refused
        comment_id = next(self._ids)
        comment = {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{self.base_url}/repos/{repo.full_name}/issues/comments/{comment_id}",
            "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
            "body": body,
            "user": {"login": "github-actions[bot]"},
            "created_at": self._now(),
            "updated_at": self._now(),
            "issue_url": issue["url"],
            "author_association": "NONE",
        }
        repo.comments.setdefault(number, []).append(comment)
        issue["comments"] += 1
        return Response(201, comment)
