"""Credits are estimated on the params that will run, and no node runs unless the execution's
reservation covers the most it can cost, measured on the params and media it runs with: a node
whose bound the team cannot cover fails unsubmitted, and no charge ever comes from beyond the
reservation. The balance never goes negative and always equals the ledger."""

import io
import wave
from decimal import Decimal
from itertools import accumulate
from typing import Any

import pytest
from django.db.models import Sum
from PIL import Image

from accounts.credits import credit_balance, credits_grant
from accounts.models import CreditEntry, Team
from executions.engine.pricing import audio_seconds, image_megapixels
from executions.media import save_media
from executions.models import ExecutionStatus, NodeRun
from executions.simulators.state import simulator_stats
from tests.conftest import ApiClient
from workflows.nodes import catalogue

from .helpers import create_workflow, edge, execute, node
from .inprocess import drive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_signup_credits(settings: Any) -> None:
    settings.SIGNUP_CREDITS = 0


def png(width: int, height: int) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, format="PNG")
    return save_media(out.getvalue(), "png", "image/png", folder="tests")


def wav(seconds: float) -> str:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\0\0" * int(8000 * seconds))
    return save_media(out.getvalue(), "wav", "audio/wav", folder="tests")


def assert_ledger_sound(team: Team) -> None:
    amounts = list(CreditEntry.objects.filter(team=team).order_by("pk")
                   .values_list("amount", flat=True))
    assert min(accumulate(amounts), default=Decimal(0)) >= 0
    assert credit_balance(team.pk) == (CreditEntry.objects.filter(team=team)
                                       .aggregate(s=Sum("amount"))["s"] or 0)


def upscale_graph(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Estimated 20 credits (5 a megapixel, a 1 MP input assumed, twice the size)."""
    nodes = [node("img", "input:image", "Photo", url=url),
             node("up", "upscale:crystal_upscaler", "Upscale")]
    return nodes, [edge("img", "image", "up", "image_url")]


# --- The estimate ----------------------------------------------------------------------------

def test_a_connected_param_that_fails_validation_does_not_cheapen_the_estimate(
        api: ApiClient) -> None:
    # The prompt arrives by edge, so its saved (invalid) value is never used; the four images
    # that will run are what is priced, not the defaults.
    nodes = [node("p", "input:text", text="a fox"),
             node("gen", "generate:flux_2", "Four", prompt=12345, num_images=4)]
    workflow_id = create_workflow(api, nodes, [edge("p", "text", "gen", "prompt")])
    body = api.post(f"/workflows/{workflow_id}/estimate", {}).json()
    assert body["estimatedCredits"] == 12
    refused = api.post(f"/workflows/{workflow_id}/execute", {})
    assert refused.status_code == 402 and refused.json()["requiredCredits"] == 12


@pytest.mark.parametrize("node_type", [t for t, spec in catalogue.items() if spec.credits])
def test_params_that_cannot_be_read_are_priced_at_the_worst_case(node_type: str) -> None:
    spec = catalogue[node_type]
    worst = round(spec.credits * spec.params.max_billable_units(), 4)
    junk: dict[str, Any] = {"num_images": "many", "duration": [], "scale_factor": {},
                            "resolution": 7}
    # ... and whatever else sets this type's price, unreadable too.
    junk |= {field: {} for field in spec.params.price_fields}
    assert spec.estimate_credits(junk) == worst
    assert spec.estimate_credits({}) <= worst


def test_a_price_setting_param_fed_by_an_edge_is_priced_at_the_worst_case() -> None:
    flux = catalogue["generate:flux_2"]
    assert flux.estimate_credits({"num_images": 1}, connected={"num_images"}) == 12
    assert flux.estimate_credits({"num_images": 1}, connected={"prompt"}) == 3


def test_the_upscaler_is_never_estimated_beyond_its_largest_output() -> None:
    crystal = catalogue["upscale:crystal_upscaler"]
    assert crystal.estimate_credits({"scale_factor": 200}) == 500  # 100 MP at most


# --- Measuring before running ---------------------------------------------------------------

def test_media_are_measured_from_their_headers(live_site: str, settings: Any) -> None:
    settings.SITE_URL = live_site
    assert image_megapixels(png(1500, 1000)) == pytest.approx(1.5)
    assert audio_seconds(wav(3.5)) == pytest.approx(3.5)
    assert image_megapixels(wav(1)) is None and audio_seconds(png(10, 10)) is None


def test_a_node_whose_bound_the_team_cannot_cover_fails_unsubmitted(
        sim_site: str, sent: list[str], api: ApiClient, team: Team) -> None:
    credits_grant(team, 25)
    # 1.5 MP in, twice the size: 6 MP out, 30 credits, over the 20 reserved at the start.
    execution_id = execute(api, create_workflow(api, *upscale_graph(png(1500, 1000))))
    assert credit_balance(team.pk) == 5
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.FAILED
    up = NodeRun.objects.get(execution=execution, node_id="up")
    assert up.status == "FAILED" and up.request_id == ""
    assert up.error == "Insufficient credits. Required: 30, Available: 25"
    assert simulator_stats()["submissions"] == 0
    assert credit_balance(team.pk) == 25
    assert_ledger_sound(team)


def test_a_node_costing_more_than_its_estimate_runs_once_its_bound_is_reserved(
        sim_site: str, sent: list[str], api: ApiClient, team: Team) -> None:
    credits_grant(team, 40)
    execution_id = execute(api, create_workflow(api, *upscale_graph(png(1500, 1000))))
    execution = drive(execution_id)
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    up = NodeRun.objects.get(execution=execution, node_id="up")
    assert up.credits == 30 and up.credits_limit == 30
    entries = [(e.kind, e.amount, e.node_id) for e in
               CreditEntry.objects.filter(execution_id=execution_id).order_by("pk")]
    assert entries == [("reserve", Decimal(-20), ""), ("reserve", Decimal(-10), "up"),
                       ("release", Decimal(30), "up"), ("charge", Decimal(-30), "up")]
    # Every charge came out of the reservation: nothing was taken beyond it.
    assert not CreditEntry.objects.filter(note__startswith="capped").exists()
    assert credit_balance(team.pk) == 10
    assert_ledger_sound(team)


def test_a_talking_video_is_bounded_by_the_length_of_its_speech(
        sim_site: str, sent: list[str], api: ApiClient, team: Team) -> None:
    credits_grant(team, 200)
    nodes = [node("face", "input:image", url=png(64, 64)),
             node("voice", "input:audio", url=wav(12)),
             node("talk", "talking:veed_fabric", "Talk", resolution="480p")]
    edges = [edge("face", "image", "talk", "image_url"),
             edge("voice", "audio", "talk", "audio_url")]
    execution = drive(execute(api, create_workflow(api, nodes, edges)))
    talk = NodeRun.objects.get(execution=execution, node_id="talk")
    assert talk.credits_limit == 15 * 12  # reserved before it ran: 12 s at 15 a second
    assert execution.status == ExecutionStatus.COMPLETED, execution.error
    assert talk.credits <= talk.credits_limit
    assert_ledger_sound(team)
