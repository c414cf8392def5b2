"""The Schedules page in Chromium: the form reads the cron aloud and lists the next run times
as the person types (and says what is wrong), then adds the schedule."""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Team, User
from executions.models import Schedule
from tests.api.run_helpers import simple_graph
from workflows.services import WorkflowData, workflow_create

from .editor_page import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_form_previews_the_cron_as_it_is_typed_and_adds_it(live_site: str, page: Page,
                                                               owner: User, team: Team) -> None:
    graph = simple_graph()
    workflow = workflow_create(user=owner, team=team, data=WorkflowData(
        name="Morning fox", nodes=graph["nodes"], edges=graph["edges"]))
    open_page(page, live_site, owner, f"/workflows/{workflow.pk}/schedules/")
    expect(page.get_by_test_id("no-schedules")).to_be_visible()
    preview = page.get_by_test_id("schedule-preview")
    expect(preview).to_contain_text("At 09:00 AM, every day (UTC)")

    page.get_by_test_id("cron-input").fill("* * * * * *")
    expect(preview).to_contain_text("seconds are not supported")
    page.get_by_test_id("cron-input").fill("30 7 * * 1-5")
    page.get_by_test_id("timezone-input").fill("Europe/Berlin")
    expect(preview).to_contain_text("At 07:30 AM, Monday through Friday (Europe/Berlin)")
    expect(preview.locator("li")).to_have_count(3)
    expect(preview.locator("li").first).to_contain_text("07:30")

    page.get_by_label("Prompt (text)").fill("a morning fox")
    page.get_by_test_id("save-schedule").click()
    expect(page.get_by_text("Schedule added.")).to_be_visible()
    expect(page.get_by_test_id("schedule-reading")).to_have_text(
        "At 07:30 AM, Monday through Friday (Europe/Berlin)")
    schedule = Schedule.objects.get()
    assert schedule.inputs == {"prompt": "a morning fox"}
