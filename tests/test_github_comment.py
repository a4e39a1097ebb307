"""The sticky PR comment, through the real PyGithub client against the fake GitHub."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ci_ml.errors import ConfigError
from ci_ml.github import ClientOptions, make_client, post_sticky_comment
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, marked, open_pr, repo_of, settings_for

MARKER = "<!-- ci-ml report: model -->"


def test_first_post_creates_one_marked_comment(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    result = post_sticky_comment(repo_of(fake_github), pr, "## Report\nall good", "model")

    comments = fake_github.state.comments(REPO, pr)
    assert result.action == "created"
    assert [c["id"] for c in comments] == [result.comment_id]
    assert comments[0]["body"] == f"{MARKER}\n## Report\nall good"
    assert result.url and result.url.endswith(f"#issuecomment-{result.comment_id}")


def test_second_post_edits_the_comment_in_place(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    repo = repo_of(fake_github)
    first = post_sticky_comment(repo, pr, "first run", "model")
    second = post_sticky_comment(repo, pr, "second run", "model")

    comments = fake_github.state.comments(REPO, pr)
    assert second.action == "updated"
    assert second.comment_id == first.comment_id
    assert [c["body"] for c in comments] == [f"{MARKER}\nsecond run"]
    assert fake_github.state.count("comments.create") == 1


@pytest.mark.parametrize(
    ("others", "per_page", "pages"),
    [(45, 30, 2), (130, 100, 2), (230, 100, 3)],
    ids=["over-30", "over-100", "over-200"],
)
def test_finds_its_comment_on_the_last_page(
    fake_github: FakeGitHub, others: int, per_page: int, pages: int
) -> None:
    pr = open_pr(fake_github)
    for i in range(others):
        fake_github.state.add_comment(REPO, pr, f"chatter {i}")
    ours = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nold", user="github-actions[bot]")
    options = ClientOptions(**{**FAST.__dict__, "per_page": per_page})

    result = post_sticky_comment(repo_of(fake_github, options), pr, "new", "model")

    assert result.action == "updated"
    assert result.comment_id == ours["id"]
    assert len(fake_github.state.comments(REPO, pr)) == others + 1
    assert [c["body"] for c in marked(fake_github, pr)] == [f"{MARKER}\nnew"]
    assert fake_github.state.count("comments.list") == pages
    assert fake_github.state.count("comments.create") == 0


def test_racing_duplicate_keeps_the_oldest(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    # Another run posts its copy between our listing and our create.
    fake_github.race_duplicate_comment(REPO, pr, f"{MARKER}\nfrom the other run")

    result = post_sticky_comment(repo_of(fake_github), pr, "ours", "model")

    remaining = marked(fake_github, pr)
    assert len(remaining) == 1
    assert remaining[0]["id"] == result.comment_id
    assert remaining[0]["body"] == f"{MARKER}\nours"
    assert result.duplicates_deleted == 1
    assert fake_github.state.count("comments.delete") == 1


def test_existing_duplicates_are_collapsed_to_the_oldest(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    bot = fake_github.state.user  # ci-ml's own comments, from earlier runs
    oldest = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nv1", user=bot)
    fake_github.state.add_comment(REPO, pr, "a human says hi")
    fake_github.state.add_comment(REPO, pr, f"{MARKER}\nv1 again", user=bot)

    result = post_sticky_comment(repo_of(fake_github), pr, "v2", "model")

    assert result.comment_id == oldest["id"]
    assert [c["body"] for c in fake_github.state.comments(REPO, pr)] == [
        f"{MARKER}\nv2",
        "a human says hi",
    ]


def test_a_retried_create_leaves_one_comment(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    # The server creates the comment but the client sees a 502, so urllib3 posts again.
    fake_github.fail_after_acting("comments.create", status=502)

    result = post_sticky_comment(repo_of(fake_github), pr, "once", "model")

    assert fake_github.state.count("comments.create") == 2
    assert [c["id"] for c in marked(fake_github, pr)] == [result.comment_id]


def test_recreate_deletes_and_posts_anew(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    repo = repo_of(fake_github)
    first = post_sticky_comment(repo, pr, "old", "model")
    fake_github.state.add_comment(REPO, pr, "a review remark")

    result = post_sticky_comment(repo, pr, "fresh", "model", mode="recreate")

    comments = fake_github.state.comments(REPO, pr)
    assert result.action == "recreated"
    assert result.comment_id != first.comment_id
    # The new comment is now the last one on the PR, below the remark.
    assert [c["body"] for c in comments] == ["a review remark", f"{MARKER}\nfresh"]


def test_off_mode_touches_nothing(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    result = post_sticky_comment(repo_of(fake_github), pr, "body", "model", mode="off")

    assert result.action == "skipped"
    assert fake_github.state.comments(REPO, pr) == []
    assert fake_github.state.requests == []


def test_reports_with_other_ids_are_left_alone(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    other = fake_github.state.add_comment(REPO, pr, "<!-- ci-ml report: churn -->\nother")

    post_sticky_comment(repo_of(fake_github), pr, "mine", "model")

    bodies = {c["id"]: c["body"] for c in fake_github.state.comments(REPO, pr)}
    assert bodies[other["id"]] == "<!-- ci-ml report: churn -->\nother"
    assert len(bodies) == 2


@pytest.mark.parametrize("report_id", ["", "a -->", "x" * 101, "new\nline"])
def test_a_report_id_that_could_break_the_marker_is_refused(
    fake_github: FakeGitHub, report_id: str
) -> None:
    with pytest.raises(ConfigError, match="report id"):
        post_sticky_comment(repo_of(fake_github), 1, "body", report_id)
    assert fake_github.state.requests == []


def test_an_unknown_mode_is_a_config_error(fake_github: FakeGitHub) -> None:
    with pytest.raises(ConfigError, match="update, recreate, off"):
        post_sticky_comment(repo_of(fake_github), 1, "body", "model", mode="upsert")


def test_another_users_comment_with_the_marker_is_never_edited_or_deleted(
    fake_github: FakeGitHub,
) -> None:
    pr = open_pr(fake_github)
    planted = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nverdict: promote", "mallory")
    quoted = fake_github.state.add_comment(REPO, pr, f"> {MARKER}\n> old report\nnice", "alice")
    repo = repo_of(fake_github)

    first = post_sticky_comment(repo, pr, "the real report", "model")
    second = post_sticky_comment(repo, pr, "the next report", "model")
    recreated = post_sticky_comment(repo, pr, "recreated", "model", mode="recreate")

    bodies = {c["id"]: c for c in fake_github.state.comments(REPO, pr)}
    assert bodies[planted["id"]]["body"] == f"{MARKER}\nverdict: promote"
    assert bodies[quoted["id"]]["body"] == f"> {MARKER}\n> old report\nnice"
    assert first.action == "created" and second.comment_id == first.comment_id
    assert recreated.comment_id not in (planted["id"], quoted["id"])
    ours = [c for c in bodies.values() if c["user"] == "github-actions[bot]"]
    assert [c["body"] for c in ours] == [f"{MARKER}\nrecreated"]
    edits_or_deletes = [
        r for r in fake_github.state.requests if r.route in ("comments.edit", "comments.delete")
    ]
    assert all(str(planted["id"]) not in r.path for r in edits_or_deletes)
    assert all(str(quoted["id"]) not in r.path for r in edits_or_deletes)


def test_a_personal_token_keeps_its_own_comment_found_through_get_user(
    fake_github: FakeGitHub,
) -> None:
    fake_github.token("ghp_personal", login="octocat", installation=False)
    pr = open_pr(fake_github)
    bot = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nby the bot", "github-actions[bot]")
    repo = make_client(replace(settings_for(fake_github, None), token="ghp_personal"), FAST)

    result = post_sticky_comment(repo.get_repo(REPO), pr, "by octocat", "model")

    comments = fake_github.state.comments(REPO, pr)
    assert result.action == "created"
    assert {c["user"]: c["body"] for c in comments} == {
        "github-actions[bot]": bot["body"],
        "octocat": f"{MARKER}\nby octocat",
    }
    assert fake_github.state.count("user.get") == 1


APP_TOKEN = "ghs_APPinstallation0123456789token"  # what actions/create-github-app-token gives


def app_repo(fake_github: FakeGitHub) -> object:
    fake_github.token(APP_TOKEN, login="ci-ml-app[bot]")
    settings = replace(settings_for(fake_github, None), token=APP_TOKEN)
    return make_client(settings, FAST).get_repo(REPO)


def test_a_github_app_token_keeps_one_comment_found_by_its_own_bot_login(
    fake_github: FakeGitHub,
) -> None:
    pr = open_pr(fake_github)
    human = fake_github.state.add_comment(REPO, pr, f"{MARKER}\npasted by hand", "alice")
    actions = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nold", "github-actions[bot]")
    repo = app_repo(fake_github)

    first = post_sticky_comment(repo, pr, "first run", "model")  # type: ignore[arg-type]
    second = post_sticky_comment(repo, pr, "second run", "model")  # type: ignore[arg-type]

    assert (first.action, second.action) == ("created", "updated")
    assert second.comment_id == first.comment_id
    by_user = {c["user"]: c["body"] for c in fake_github.state.comments(REPO, pr)}
    assert by_user == {
        "alice": human["body"],  # a person's comment with the marker: never edited
        "github-actions[bot]": actions["body"],  # another identity's: not ours either
        "ci-ml-app[bot]": f"{MARKER}\nsecond run",
    }
    assert fake_github.state.count("comments.create") == 1
    assert fake_github.state.count("graphql.query") == 2  # one `viewer` per run
    assert fake_github.state.count("user.get") == 0  # 403 for an installation token


def test_a_login_the_caller_knows_costs_no_request(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    ours = fake_github.state.add_comment(REPO, pr, f"{MARKER}\nold", "github-actions[bot]")

    result = post_sticky_comment(
        repo_of(fake_github), pr, "new", "model", author="github-actions[bot]"
    )

    assert (result.action, result.comment_id) == ("updated", ours["id"])
    assert fake_github.state.count("graphql.query") + fake_github.state.count("user.get") == 0
