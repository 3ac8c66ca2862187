"""Marketo's activity types: the documented default ids, an instance's own
(`activities/types.json`), and which of them sim replays as load.

External activities (a form fill, a click, a page visit, an API request of a campaign, a
change made outside any flow) are what arrives on its own: they become the load. Activities
a campaign's flow produced (it has a ``campaignId``) are kept aside for `sim compare`.
"""

from __future__ import annotations

import attrs

#: The documented default activity type ids (Marketo's REST API, "Activity Types").
DEFAULT_ACTIVITY_TYPES: dict[int, str] = {
    1: "Visit Webpage",
    2: "Fill Out Form",
    3: "Click Link",
    6: "Send Email",
    12: "New Lead",
    13: "Change Data Value",
    22: "Change Score",
    24: "Add to List",
    25: "Remove from List",
    46: "Interesting Moment",
    47: "Request Campaign",
    104: "Change Status in Progression",
    110: "Call Webhook",
}

#: Marketo activity type name -> the sim activity type it is (docs/scenarios.md, "The
#: activity log"); a type not here is not modelled.
SIM_ACTIVITY: dict[str, str] = {
    "Visit Webpage": "visit_page",
    "Fill Out Form": "fill_out_form",
    "Click Link": "click_link",
    "Send Email": "send_email",
    "Change Data Value": "change_data_value",
    "Change Score": "change_score",
    "Add to List": "add_to_list",
    "Remove from List": "remove_from_list",
    "Interesting Moment": "interesting_moment",
    "Request Campaign": "request_campaign",
    "Change Status in Progression": "change_program_status",
    "Call Webhook": "call_webhook",
}

#: The sim activity types that can arrive from outside a flow, as [[activities]] and CSV
#: replay rows can hold them (docs/scenarios.md, "[[activities]]").
EXTERNAL_SIM_ACTIVITIES = ("fill_out_form", "click_link", "visit_page", "change_data_value", "request_campaign")


@attrs.frozen(kw_only=True)
class ActivityType:
    """One activity type of an instance: its id, its name and, when sim models it, the sim
    activity type it maps to."""

    id: int
    name: str

    @property
    def sim_activity(self) -> str | None:
        return SIM_ACTIVITY.get(self.name)


def default_activity_types() -> dict[int, ActivityType]:
    """The documented defaults, for an import given no `activities/types.json`."""
    return {id_: ActivityType(id=id_, name=name) for id_, name in DEFAULT_ACTIVITY_TYPES.items()}
