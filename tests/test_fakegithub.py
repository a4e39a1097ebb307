"""The fake GitHub itself: pagination, releases, refs, faults; through the real PyGithub."""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path

import pytest
import requests
from github import Auth, Github, GithubException
from github.GithubException import BadAttributeException

from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, TOKEN, repo_of


def bare_client(fake: FakeGitHub) -> Github:
    """Plain PyGithub, no retries, no pacing."""
    return Github(
        auth=Auth.Token(TOKEN),
        base_url=fake.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def raw_get(url: str) -> tuple[list[dict[str, object]], str]:
    with urllib.request.urlopen(url) as response:
        return json.loads(response.read()), response.headers.get("Link", "")


def test_pagination_defaults_to_30_and_caps_at_100(fake_github: FakeGitHub) -> None:
    pr = fake_github.state.add_pull(REPO)
    for i in range(250):
        fake_github.state.add_comment(REPO, pr, f"c{i}")
    url = f"{fake_github.url}/repos/{REPO}/issues/{pr}/comments"

    first, link = raw_get(url)
    big, _ = raw_get(url + "?per_page=500")
    last, last_link = raw_get(url + "?per_page=100&page=3")

    assert len(first) == 30 and len(big) == 100 and len(last) == 50
    assert 'page=2&per_page=30>; rel="next"' in link
    assert 'page=9&per_page=30>; rel="last"' in link
    assert 'rel="next"' not in last_link and 'rel="prev"' in last_link
    assert [c["body"] for c in last][-1] == "c249"


def test_pygithub_follows_every_page(fake_github: FakeGitHub) -> None:
    pr = fake_github.state.add_pull(REPO)
    for i in range(75):
        fake_github.state.add_comment(REPO, pr, f"c{i}")
    bodies = [c.body for c in bare_client(fake_github).get_repo(REPO).get_issue(pr).get_comments()]

    assert bodies == [f"c{i}" for i in range(75)]
    assert fake_github.state.count("comments.list") == 3  # PyGithub's default 30 a page


def test_release_round_trip(fake_ghe: FakeGitHub, tmp_path: Path) -> None:
    # PyGithub's own uploads and downloads: on GitHub Enterprise they stay on the API host.
    fake_github = fake_ghe
    repo = repo_of(fake_github)
    release = repo.create_git_release("model-v1", "model v1", "champion")
    model = tmp_path / "model.skops"
    model.write_bytes(b"\x00model bytes\xff")

    release.upload_asset(str(model), content_type="application/octet-stream")
    release.upload_asset_from_memory(io.BytesIO(b'{"auc": 0.9}'), 12, "card.json")
    again = repo.get_release("model-v1")
    assets = {a.name: a for a in again.get_assets()}
    assets["model.skops"].download_asset(str(tmp_path / "down"))

    assert again.id == release.id and sorted(assets) == ["card.json", "model.skops"]
    assert (tmp_path / "down").read_bytes() == b"\x00model bytes\xff"
    assert assets["card.json"].size == 12
    assert [r.tag_name for r in repo.get_releases()] == ["model-v1"]

    assets["card.json"].delete_asset()
    assert [a.name for a in repo.get_release(release.id).get_assets()] == ["model.skops"]
    release.delete_release()
    with pytest.raises(GithubException) as missing:
        repo.get_release("model-v1")
    assert missing.value.status == 404


def test_upload_urls_follow_the_enterprise_prefix(fake_ghe: FakeGitHub) -> None:
    release = repo_of(fake_ghe).create_git_release("v1", "v1", "")
    release.upload_asset_from_memory(io.BytesIO(b"x"), 1, "a.bin")

    assert "/api/uploads/repos/" in release.upload_url
    upload = [r for r in fake_ghe.state.requests if r.route == "assets.upload"]
    assert upload[0].raw_path.startswith("/api/uploads/repos/octo/demo/releases/")


def test_duplicate_asset_names_are_refused(fake_ghe: FakeGitHub) -> None:
    fake_github = fake_ghe
    release = repo_of(fake_github).create_git_release("v1", "v1", "")
    release.upload_asset_from_memory(io.BytesIO(b"x"), 1, "a.bin")
    with pytest.raises(GithubException) as dup:
        release.upload_asset_from_memory(io.BytesIO(b"y"), 1, "a.bin")
    assert dup.value.status == 422


def test_dying_mid_upload(fake_ghe: FakeGitHub) -> None:
    fake_github = fake_ghe
    repo = repo_of(fake_github)
    release = repo.create_git_release("v1", "v1", "")
    fake_github.disconnect("assets.upload")
    bare = bare_client(fake_github)
    payload = b"z" * 200_000

    with pytest.raises(requests.exceptions.ConnectionError):
        bare.get_repo(REPO).get_release(release.id).upload_asset_from_memory(
            io.BytesIO(payload), len(payload), "big.bin"
        )
    assert fake_github.state.repo(REPO).assets == {}

    # With ci-ml's client the dropped upload is retried, the body re-sent from the start.
    fake_github.disconnect("assets.upload")
    asset = release.upload_asset_from_memory(io.BytesIO(payload), len(payload), "big.bin")
    (stored,) = fake_github.state.repo(REPO).assets.values()
    assert asset.size == len(payload) and stored["content"] == payload


def test_refs(fake_github: FakeGitHub) -> None:
    # Not lazy: a lazy GitRef keeps the /git/ref/ URL it was asked by, which is GET-only.
    repo = bare_client(fake_github).get_repo(REPO)
    repo.create_git_ref("refs/heads/ci-ml-registry", "1" * 40)
    ref = repo.get_git_ref("heads/ci-ml-registry")
    ref.edit("2" * 40, force=True)

    assert repo.get_git_ref("heads/ci-ml-registry").object.sha == "2" * 40
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/ci-ml-registry", "3" * 40)
    assert exists.value.status == 422


def test_issues_and_pulls(fake_github: FakeGitHub) -> None:
    fake_github.allow_pull_requests_from_actions(REPO)
    repo = repo_of(fake_github)
    issue = repo.create_issue("Drift alarm", "age drifted", labels=["ci-ml"])
    pull = repo.create_pull(base="main", head="retrain", title="Retrain", body="new champion")
    issue.edit(state="closed")

    assert [i.number for i in repo.get_issues(state="open")] == [pull.number]
    assert [i.title for i in repo.get_issues(state="all", labels=["ci-ml"])] == ["Drift alarm"]
    assert [p.title for p in repo.get_pulls()] == ["Retrain"]
    assert repo.get_pull(pull.number).head.ref == "retrain"


def test_faults_are_consumed_in_order(fake_github: FakeGitHub) -> None:
    fake_github.fail("repo.get", status=500, times=2)
    bare = bare_client(fake_github)

    statuses = []
    for _ in range(3):
        try:
            bare.get_repo(REPO)
            statuses.append(200)
        except GithubException as e:
            statuses.append(e.status)

    assert statuses == [500, 500, 200]
    assert [r.status for r in fake_github.state.requests] == [500, 500, 200]
    with pytest.raises(ValueError, match="unknown route"):
        fake_github.fail("no.such.route")


def test_the_token_reaches_the_server_only_in_the_header(fake_github: FakeGitHub) -> None:
    repo_of(fake_github, FAST).get_issues().totalCount  # noqa: B018 - a request is the point
    (request,) = fake_github.state.requests
    assert request.headers["authorization"] == f"token {TOKEN}"
    assert TOKEN not in request.raw_path


def test_git_data_and_fast_forward_only_ref_updates(fake_github: FakeGitHub) -> None:
    from github import InputGitTreeElement

    repo = bare_client(fake_github).get_repo(REPO)
    blob = repo.create_git_blob("aGk=", "base64")  # "hi"
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("a.txt", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("b.txt", "100644", "blob", content="inline"),
        ]
    )
    root = repo.create_git_commit("root", tree, [])
    child = repo.create_git_commit("child", tree, [root])
    sibling = repo.create_git_commit("sibling", tree, [root])
    repo.create_git_ref("refs/heads/data", root.sha)
    ref = repo.get_git_ref("heads/data")
    ref.edit(child.sha, force=False)  # a fast-forward

    with pytest.raises(GithubException) as refused:
        ref.edit(sibling.sha, force=False)
    assert refused.value.status == 422 and "not a fast forward" in str(refused.value)
    ref.edit(sibling.sha, force=True)
    entries = repo.get_git_tree(repo.get_git_commit(sibling.sha).tree.sha).tree
    assert [(e.path, repo.get_git_blob(e.sha).content) for e in entries] == [
        ("a.txt", "aGk="),
        ("b.txt", "aW5saW5l"),
    ]
    assert fake_github.state.repo(REPO).files_at("refs/heads/data") == {
        "a.txt": b"hi",
        "b.txt": b"inline",
    }
    assert [p.sha for p in repo.get_git_commit(child.sha).parents] == [root.sha]


def test_an_answer_the_openapi_description_refuses_fails_the_test(monkeypatch) -> None:
    from tests.fakegithub import Response

    fake = FakeGitHub().start()
    monkeypatch.setattr(
        FakeGitHub, "repo_get", lambda self, req: Response(200, {"id": "not an int"})
    )
    with pytest.raises(BadAttributeException):  # PyGithub cannot read it either
        bare_client(fake).get_repo(REPO).id  # noqa: B018
    with pytest.raises(
        AssertionError, match=r"(?s)OpenAPI description.*at id: .not an int. is not of type"
    ):
        fake.stop()


def test_an_undocumented_success_status_is_a_violation() -> None:
    from tests import fakegithub_openapi as openapi

    found = openapi.violations("/repos/{owner}/{repo}/releases", "POST", 200, {})
    assert found and "lists no 200 answer" in found[0]
    assert openapi.version() == "23.0.2"


def test_creating_a_pull_request_needs_the_repository_setting(fake_github: FakeGitHub) -> None:
    repo = repo_of(fake_github)
    with pytest.raises(GithubException) as refused:
        repo.create_pull(base="main", head="retrain", title="Retrain", body="")
    assert refused.value.status == 403
    assert "not permitted to create or approve pull requests" in str(refused.value)

    fake_github.allow_pull_requests_from_actions(REPO)
    assert repo.create_pull(base="main", head="retrain", title="Retrain", body="").number


def test_get_user_is_403_for_an_installation_token_and_a_login_for_a_pat(
    fake_github: FakeGitHub,
) -> None:
    fake_github.token("ghp_person", login="octocat", installation=False)
    person = Github(auth=Auth.Token("ghp_person"), base_url=fake_github.url)
    assert person.get_user().login == "octocat"
    with pytest.raises(GithubException) as refused:
        bare_client(fake_github).get_user().login  # noqa: B018
    assert refused.value.status == 403


def test_primary_rate_limit_headers_count_down_and_run_out(fake_github: FakeGitHub) -> None:
    fake_github.token(TOKEN, rate_limit=3)
    url = f"{fake_github.url}/repos/{REPO}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answers = [requests.get(url, headers=auth, timeout=5) for _ in range(4)]

    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert "rate limit exceeded" in answers[3].json()["message"]
    assert int(answers[3].headers["X-RateLimit-Reset"]) > 0


def test_strict_tokens_make_an_unknown_token_bad_credentials(fake_github: FakeGitHub) -> None:
    fake_github.state.strict_tokens = True
    with pytest.raises(GithubException) as refused:
        bare_client(fake_github).get_repo(REPO)
    assert refused.value.status == 401 and "Bad credentials" in str(refused.value)
