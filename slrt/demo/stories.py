"""The demo's case stories, decided in advance: who came when, for what, and what happened since.

Each story is a plan of dated steps (refer, accept, complete, close, ...); the builder
replays them through the domain functions. Steps after now are left out: they have not
happened yet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from slrt import clock, workdays
from slrt.demo.data import (
    ACTIVE_FATES,
    CANCEL_REASONS,
    CASE_CANCEL_REASONS,
    COMPLETION_NOTES,
    ENDED_FATES,
    IN_PROCESS_NOTES,
    POST_OF_VILLAGE,
    REJECT_REASONS,
    REOPEN_NOTE,
    REQUIRED_STORIES,
    SERVICES,
    SUMMARIES,
    ServiceSpec,
)
from slrt.demo.people import Person
from slrt.models.enums import Channel, Urgency

#: A referral (or case) that has not ended.
NEVER = datetime.max.replace(tzinfo=UTC)
#: The secretariat's key among the units a case is opened at (a Puskesos post's is its name).
SECRETARIAT = "sekretariat"


@dataclass
class Step:
    """One thing that happened to a case at ``at``; ``need`` picks the referral."""

    at: datetime
    action: str
    need: int = -1
    by: str = "staff"
    note: str | None = None


@dataclass
class Plan:
    """One case's story: who, when, what, and the steps that followed."""

    opened_at: datetime
    person: int
    services: list[ServiceSpec]
    kind: str
    forced_fate: str | None = None
    close: bool | None = None
    unit: str = SECRETARIAT
    channel: Channel = Channel.WALK_IN
    urgency: Urgency = Urgency.NORMAL
    summary: str = ""
    steps: list[Step] = field(default_factory=list)


class Calendar:
    """Office moments in the past year, drawn from the history stream."""

    def __init__(self, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng

    def office_moment(self, day: date) -> datetime:
        """Return a random office-hours moment (07:30-15:30 local) on ``day``, as UTC."""
        minutes = self.rng.randint(7 * 60 + 30, 15 * 60 + 30)
        local = datetime.combine(day, time(minutes // 60, minutes % 60, self.rng.randint(0, 59)),
                                 clock.local_zone())
        return local.astimezone(UTC)

    def later(self, moment: datetime, days: int) -> datetime:
        """Return a moment ``days`` working days after ``moment`` (0: later the same day if open)."""
        if days == 0:
            candidate = moment + timedelta(minutes=self.rng.randint(15, 150))
            if clock.to_local(candidate).hour < 16:
                return candidate
            days = 1
        return self.office_moment(workdays.add_working_days(clock.to_local(moment).date(), days))

    def working_day_back(self, days_ago: int) -> datetime:
        """Return an office moment on the working day on or before ``days_ago`` days ago, in the past."""
        day = clock.to_local(self.now).date() - timedelta(days=days_ago)
        for _ in range(30):
            if workdays.is_working_day(day):
                moment = self.office_moment(day)
                if moment < self.now:
                    return moment
                if day == clock.to_local(self.now).date() and clock.to_local(self.now).hour >= 8:
                    return self.now - timedelta(minutes=self.rng.randint(5, 60))
            day -= timedelta(days=1)
        raise RuntimeError("no working day found in a month")


class Storyteller:
    """Decides every case of the demo for the people drawn, on the calendar's stream."""

    def __init__(self, calendar: Calendar, people: list[Person]) -> None:
        self.calendar = calendar
        self.rng = calendar.rng
        self.now = calendar.now
        self.people = people

    def plan_cases(self, size: int) -> list[Plan]:
        """Decide every case: when, for whom, which needs, and what happened to it since."""
        count = max(len(REQUIRED_STORIES), round(size * 1.3))
        stories: list[tuple[datetime, str, str | None, bool | None]] = []
        for kind, fate, close, low, high in REQUIRED_STORIES:
            stories.append((self.calendar.working_day_back(self.rng.randint(low, high)), kind, fate, close))
        while len(stories) < count:
            moment = self.calendar.working_day_back(self.rng.randint(0, 364))
            stories.append((moment, self._kind_for_age((self.now - moment).days), None, None))
        stories.sort(key=lambda story: story[0])

        busy: dict[tuple[int, str], datetime] = {}
        plans = []
        for opened_at, kind, fate, close in stories:
            plan = self._draw_case(opened_at, kind, fate, close, busy)
            if plan is None:
                continue
            self._draw_steps(plan)
            for need, spec in enumerate(plan.services):
                busy[(plan.person, spec.code)] = ended_at(plan, need)
            plans.append(plan)
        return plans

    def _kind_for_age(self, days: int) -> str:
        """Return what a case opened ``days`` ago is likely to have become."""
        if days <= 2:
            return self.rng.choices(("open", "active"), (40, 60))[0]
        if days <= 25:
            return self.rng.choices(("active", "ended", "cancelled"), (50, 45, 5))[0]
        if days <= 90:
            return self.rng.choices(("active", "ended", "cancelled"), (8, 87, 5))[0]
        return self.rng.choices(("active", "ended", "cancelled"), (1, 95, 4))[0]

    def _draw_case(self, opened_at: datetime, kind: str, fate: str | None, close: bool | None,
                   busy: dict[tuple[int, str], datetime]) -> Plan | None:
        """Pick the main need, a resident it fits, companion needs, unit, channel and wording."""
        rng = self.rng
        day = clock.to_local(opened_at).date()
        for _ in range(20):
            main = rng.choices(SERVICES, [s.weight for s in SERVICES])[0]
            candidates = [i for i, p in enumerate(self.people)
                          if _fits(main, p, day) and busy.get((i, main.code), opened_at) <= opened_at
                          and (fate != "reopened" or p.phone)]
            if candidates:
                break
        else:
            return None
        person = rng.choices(candidates, [1 / (1 + self.people[i].cases) ** 3 for i in candidates])[0]
        services = [main]
        if rng.random() < 0.2:
            for code in main.companions:
                spec = _service_spec(code)
                if _fits(spec, self.people[person], day) and busy.get((person, code), opened_at) <= opened_at:
                    services.append(spec)
                    if rng.random() < 0.8:
                        break
        self.people[person].cases += 1
        if self.people[person].first_case_at is None:
            self.people[person].first_case_at = opened_at
        unit = POST_OF_VILLAGE.get(self.people[person].village, SECRETARIAT)
        if unit != SECRETARIAT and rng.random() < 0.12:
            unit = SECRETARIAT  # came to the district office in town instead
        if unit == SECRETARIAT:
            channel = rng.choices((Channel.WALK_IN, Channel.PHONE, Channel.OUTREACH, Channel.SMS), (60, 15, 10, 15))[0]
        else:
            channel = rng.choices((Channel.PUSKESOS, Channel.OUTREACH, Channel.WALK_IN, Channel.PHONE, Channel.SMS),
                                  (55, 20, 10, 10, 5))[0]
        if main.code in ("RS_KERINGANAN", "KEBAKARAN", "PEMULANGAN"):
            urgency = rng.choices((Urgency.NORMAL, Urgency.URGENT, Urgency.EMERGENCY), (40, 48, 12))[0]
        else:
            urgency = rng.choices((Urgency.NORMAL, Urgency.URGENT), (92, 8))[0]
        summary = rng.choice(SUMMARIES[main.code])
        if len(services) > 1:
            summary += " Juga minta dibantu: " + ", ".join(s.short_name for s in services[1:]) + "."
        return Plan(opened_at=opened_at, person=person, services=services, kind=kind, forced_fate=fate,
                    close=close, unit=unit, channel=channel, urgency=urgency, summary=summary)

    def _draw_steps(self, plan: Plan) -> None:
        """Write the case's story as dated steps; steps after now are left out (not happened yet)."""
        rng = self.rng
        later = self.calendar.later
        if plan.kind == "open":
            return
        if plan.kind == "cancelled" and rng.random() < 0.5:
            # withdrawn before anyone referred it
            plan.steps.append(Step(later(plan.opened_at, rng.randint(0, 2)), "cancel_case",
                                   note=rng.choice(CASE_CANCEL_REASONS)))
            return
        first_refer = later(plan.opened_at, rng.choices((0, 1, 2), (70, 20, 10))[0])
        ends: list[datetime] = []
        for need, spec in enumerate(plan.services):
            sent = first_refer if need == 0 else first_refer + timedelta(minutes=rng.randint(2, 20))
            plan.steps.append(Step(sent, "refer", need))
            if plan.kind == "cancelled":
                continue
            if plan.kind == "active" and need == 0:
                fate = plan.forced_fate or rng.choice(ACTIVE_FATES)
            elif plan.kind == "active":
                fate = rng.choice(ACTIVE_FATES + ("completed",))
            else:
                names, weights = zip(*ENDED_FATES, strict=True)
                fate = (plan.forced_fate if need == 0 else None) or rng.choices(names, weights)[0]
                if fate == "reopened" and not self.people[plan.person].phone:
                    fate = "completed"
            ends.append(self._draw_referral(plan, need, spec, sent, fate))
        if plan.kind == "cancelled":
            plan.steps.append(Step(later(first_refer, rng.randint(1, 4)), "cancel_case",
                                   note=rng.choice(CASE_CANCEL_REASONS)))
        elif plan.kind == "ended" and ends and all(e != NEVER for e in ends):
            close = plan.close if plan.close is not None else rng.random() < 0.95
            if close:
                plan.steps.append(Step(later(max(ends), rng.randint(1, 8)), "close"))
        if rng.random() < 0.08:
            plan.steps.append(Step(later(plan.opened_at, rng.randint(1, 3)), "reassign"))
        plan.steps = sorted((s for s in plan.steps if s.at <= self.now), key=lambda s: s.at)

    def _draw_referral(self, plan: Plan, need: int, spec: ServiceSpec, sent: datetime, fate: str) -> datetime:
        """Add the agency's answers to one referral; return when it ended (NEVER if it has not)."""
        rng = self.rng
        later = self.calendar.later
        steps = plan.steps
        domain = spec.domain

        def answer(at: datetime, action: str, note: str | None = None, by: str | None = None) -> datetime:
            steps.append(Step(at, action, need, by or rng.choices(("contact", "staff"), (55, 45))[0], note))
            return at

        if fate == "silent":
            return NEVER
        if fate in ("accepted", "in_process"):
            accepted = answer(later(sent, rng.randint(0, 2)), "accept")
            if fate == "in_process":
                answer(later(accepted, rng.randint(1, 3)), "in_process", rng.choice(IN_PROCESS_NOTES),
                       by=rng.choices(("contact", "staff"), (70, 30))[0])
            return NEVER
        if fate == "cancelled":
            return answer(later(sent, rng.randint(1, 5)), "cancel", rng.choice(CANCEL_REASONS), by="staff")
        if fate == "rejected":
            at = sent
            if rng.random() < 0.4:
                at = answer(later(at, rng.randint(0, 2)), "accept")
            return answer(later(at, rng.randint(1, spec.sla_days + 2)), "reject",
                          rng.choice(REJECT_REASONS[domain]))
        # completed or reopened
        late = rng.random() < 0.22
        total = spec.sla_days + rng.randint(1, spec.sla_days) if late else rng.randint(1, spec.sla_days)
        at = sent
        if total > 1 and rng.random() < 0.5:
            accept_after = rng.randint(0, min(2, total - 1))
            at = answer(later(at, accept_after), "accept")
            if total - accept_after > 2 and rng.random() < 0.35:
                answer(later(at, 1), "in_process", rng.choice(IN_PROCESS_NOTES))
        done = answer(later(sent, total), "complete", rng.choice(COMPLETION_NOTES[spec.code]))
        if fate != "reopened":
            return done
        reopened = answer(later(done, rng.randint(1, 3)), "reopen", REOPEN_NOTE, by="resident")
        again = answer(later(reopened, 1), "accept")
        return answer(later(again, rng.randint(1, spec.sla_days)), "complete",
                      rng.choice(COMPLETION_NOTES[spec.code]))


def ended_at(plan: Plan, need: int) -> datetime:
    """Return when the case's ``need`` stopped being active, or NEVER when it still is."""
    if plan.kind == "open":
        return NEVER
    ended = NEVER
    for step in plan.steps:
        if step.action == "cancel_case":
            return step.at
        if step.need == need and step.action in ("complete", "reject", "cancel"):
            ended = step.at
        elif step.need == need and step.action == "reopen":
            ended = NEVER
    return ended


def _service_spec(code: str) -> ServiceSpec:
    return next(spec for spec in SERVICES if spec.code == code)


def _fits(spec: ServiceSpec, person: Person, day: date) -> bool:
    """True when ``spec`` is a service for someone of ``person``'s age and sex on ``day``."""
    low, high = spec.ages
    return low <= person.age_on(day) <= high and (spec.sex is None or spec.sex == person.sex)
