"""Pages of the studies app. Each view parses input, checks access with ``access.study_for``,
calls one service or selector and renders; the rules live in the services."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from studies import access, selectors, services
from studies.errors import ConflictError, ImportProblems, StudyLocked
from studies.forms import (
    AllocateForm,
    AnimalsForm,
    AnimalStatusForm,
    ComparisonForm,
    DesignForm,
    DoseForm,
    GroupForm,
    MemberForm,
    ScheduleForm,
    StockForm,
    StudyCreateForm,
    StudyEditForm,
    TimepointForm,
    WeightForm,
    apply_errors,
)
from studies.models import Animal, DosingSchedule, Membership, Study


def _designs() -> dict[str, dict]:
    try:
        from studies.designs import DESIGNS
    except ImportError:  # the designs module is optional for the rest of the pages
        return {}
    return DESIGNS


def _back(request, default: str) -> HttpResponseRedirect:
    """Back to the page the form came from (``next``), when it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return HttpResponseRedirect(target)


def locked_guard(view):
    """Turn ``StudyLocked`` into a message and a way back instead of a server error."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except StudyLocked as exc:
            messages.error(request, str(exc))
            slug = kwargs.get("slug")
            return redirect("studies:detail", slug=slug) if slug else redirect("studies:list")

    return wrapper


# --- Today and lists --------------------------------------------------------------------------


@login_required
def today(request):
    today_work = selectors.today_for_user(user=request.user, date=timezone.localdate())
    return render(
        request,
        "studies/today.html",
        {"nav": "today", "today": today_work, "focus": request.GET.get("focus", "dose")},
    )


@login_required
def study_list(request):
    rows = selectors.study_list_for_user(user=request.user)
    return render(request, "studies/list.html", {"nav": "studies", "rows": rows})


# --- creating studies -------------------------------------------------------------------------


@login_required
def study_new(request):
    form = StudyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_create(
                user=request.user, assays=form.assays(), **form.study_fields()
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Study {study.slug} created. Add its groups and days.")
            return redirect("studies:edit", slug=study.slug)
    designs = [
        {"key": key, "title": design.get("title", key), "species": design.get("species", "")}
        for key, design in _designs().items()
    ]
    return render(request, "studies/new.html", {"nav": "studies", "form": form, "designs": designs})


@login_required
def study_new_from_design(request, key: str):
    designs = _designs()
    if key not in designs:
        raise Http404("No such design.")
    design = designs[key]
    form = DesignForm(request.POST or None, initial={"slug": key, "title": design.get("title")})
    if request.method == "POST" and form.is_valid():
        try:
            study = services.study_from_design(
                key=key,
                slug=form.cleaned_data["slug"],
                title=form.cleaned_data["title"] or None,
                day0=form.cleaned_data["day0"],
                user=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except ImportProblems as exc:
            for where, message in exc.problems:
                form.add_error(None, f"{where}: {message}")
        else:
            messages.success(request, f"Study {study.slug} created from the design {key}.")
            return redirect("studies:detail", slug=study.slug)
    return render(
        request,
        "studies/new_from_design.html",
        {"nav": "studies", "form": form, "key": key, "design": design},
    )


# --- one study --------------------------------------------------------------------------------


@login_required
def study_detail(request, slug: str):
    study, role = access.study_for(user=request.user, slug=slug)
    overview = selectors.study_overview(study=study, role=role, date=timezone.localdate())
    return render(
        request,
        "studies/detail.html",
        {
            "nav": "studies",
            "study": study,
            "role": role,
            "role_label": Membership.Role(role).label.lower(),
            "can_design": access.can(role, access.DESIGN),
            **overview,
        },
    )


def _edit_context(study: Study, **forms) -> dict:
    context = {
        "nav": "studies",
        "study": study,
        "form": StudyEditForm(
            initial={
                "title": study.title,
                "description": study.description,
                "strain": study.strain,
                "sex": study.sex,
                "supplier": study.supplier,
                "day0": study.day0,
                "blinded": study.blinded,
                "version": study.version,
            }
        ),
        "group_form": GroupForm(prefix="group"),
        "timepoint_form": TimepointForm(prefix="timepoint"),
        "comparison_form": ComparisonForm(prefix="comparison", study=study),
        "schedule_form": ScheduleForm(prefix="schedule", study=study),
        "schedules": list(
            DosingSchedule.objects.filter(study=study).select_related("group", "agent")
        ),
    }
    context.update(forms)
    return context


@login_required
@locked_guard
def study_edit(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    if request.method != "POST":
        return render(request, "studies/edit.html", _edit_context(study))
    form = StudyEditForm(request.POST)
    if form.is_valid():
        try:
            services.study_update(
                study=study,
                user=request.user,
                expected_version=form.cleaned_data["version"],
                **form.changes(),
            )
        except ConflictError as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Study saved.")
            return redirect("studies:edit", slug=study.slug)
    return render(request, "studies/edit.html", _edit_context(study, form=form), status=400)


# One small form per kind of design item; each posts to its own address and comes back here.
_DESIGN_ITEMS = {
    "group": (GroupForm, False, "Group added."),
    "timepoint": (TimepointForm, False, "Timepoint added."),
    "comparison": (ComparisonForm, True, "Comparison added."),
    "schedule": (ScheduleForm, True, "Dosing schedule added."),
}


@login_required
@require_POST
@locked_guard
def design_item_add(request, slug: str, item: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    if item not in _DESIGN_ITEMS:
        raise Http404("Nothing of that kind can be added.")
    form_class, needs_study, done = _DESIGN_ITEMS[item]
    extra = {"study": study} if needs_study else {}
    form = form_class(request.POST, prefix=item, **extra)
    if form.is_valid():
        data = form.cleaned_data
        add = {
            "group": services.group_add,
            "timepoint": services.timepoint_add,
            "comparison": services.comparison_add,
            "schedule": services.schedule_add,
        }[item]
        try:
            add(study=study, user=request.user, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect(reverse("studies:edit", kwargs={"slug": study.slug}) + f"#{item}s")
    return render(
        request, "studies/edit.html", _edit_context(study, **{f"{item}_form": form}), status=400
    )


@login_required
@require_POST
@locked_guard
def schedule_stock(request, slug: str, schedule_id: int):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    schedule = get_object_or_404(DosingSchedule, pk=schedule_id, study=study)
    form = StockForm(request.POST, prefix=f"stock{schedule.pk}")
    if form.is_valid():
        try:
            services.schedule_set_stock(
                schedule=schedule,
                stock_concentration=form.cleaned_data["stock_concentration"],
                user=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Stock concentration of {schedule.agent} saved.")
    else:
        messages.error(
            request, f"Stock concentration: {' '.join(form.errors.get('stock_concentration', []))}"
        )
    return redirect(reverse("studies:edit", kwargs={"slug": study.slug}) + "#schedules")


@login_required
def members(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_set_by_username(
                study=study,
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['username']} added.")
            return redirect("studies:members", slug=study.slug)
    overview_members = study.memberships.select_related("user").order_by("role", "user__username")
    return render(
        request,
        "studies/members.html",
        {"nav": "studies", "study": study, "form": form, "members": overview_members},
        status=400 if form.errors else 200,
    )


@login_required
@locked_guard
def animals(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    form = AnimalsForm(request.POST or None)
    problems: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            registered = services.animals_register(
                study=study, text=form.cleaned_data["text"], user=request.user
            )
        except ImportProblems as exc:
            problems = exc.problems
        else:
            if registered:
                messages.success(request, f"{len(registered)} animals registered.")
            else:
                messages.info(request, "These animals are already registered: nothing changed.")
            return redirect("studies:animals", slug=study.slug)
    return render(
        request,
        "studies/animals.html",
        {
            "nav": "studies",
            "study": study,
            "form": form,
            "problems": problems,
            "animals": selectors.animals_for_study(study=study, date=timezone.localdate()),
            "status_form": AnimalStatusForm(),
        },
        status=400 if problems or form.errors else 200,
    )


@login_required
@require_POST
@locked_guard
def animal_status(request, slug: str, animal_id: int):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    animal = get_object_or_404(Animal, pk=animal_id, study=study)
    form = AnimalStatusForm(request.POST)
    if form.is_valid():
        try:
            services.animal_set_status(animal=animal, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, f"{animal.code}: {' '.join(exc.messages)}")
        else:
            messages.success(request, f"{animal.code} is now {animal.status}.")
    else:
        messages.error(request, f"{animal.code}: {form.errors.as_text()}")
    return redirect("studies:animals", slug=study.slug)


@login_required
@locked_guard
def allocate(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    n_active = Animal.objects.filter(study=study, status=Animal.Status.ACTIVE).count()
    targets = selectors.allocation_targets(study=study, n_animals=n_active)
    form = AllocateForm(request.POST or None, targets=targets)
    if request.method == "POST" and form.is_valid():
        try:
            allocation = services.animals_allocate(
                study=study,
                seed=form.cleaned_data["seed"],
                balance_on=form.cleaned_data["balance_on"],
                targets=form.targets(),
                user=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                f"{len(allocation.result['animals'])} animals allocated (seed {allocation.seed}).",
            )
            return redirect("studies:allocate", slug=study.slug)
    latest = study.allocations.select_related("created_by").first()
    return render(
        request,
        "studies/allocate.html",
        {
            "nav": "studies",
            "study": study,
            "form": form,
            "n_active": n_active,
            "latest": latest,
            "latest_rows": sorted(latest.result.get("animals", {}).items()) if latest else [],
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@locked_guard
def study_status(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.DESIGN)
    status = request.POST.get("status", "")
    try:
        if status == Study.Status.LOCKED:
            services.study_lock(study=study, user=request.user)
            messages.success(request, f"Study {study.slug} is locked: it is now read-only.")
        else:
            services.study_set_status(study=study, status=status, user=request.user)
            messages.success(request, f"Study {study.slug} is now {status}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("studies:detail", slug=study.slug)


# --- recording from Today ---------------------------------------------------------------------


@login_required
@require_POST
@locked_guard
def dose_record(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.RECORD)
    form = DoseForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Dose not recorded: {form.errors.as_text()}")
        return _back(request, reverse("studies:today"))
    data = form.cleaned_data
    schedule = get_object_or_404(
        DosingSchedule.objects.select_related("agent", "study"), pk=data["schedule"], study=study
    )
    animal = get_object_or_404(Animal, pk=data["animal"], study=study)
    try:
        record = services.dose_record(
            schedule=schedule,
            animal=animal,
            day=data["day"],
            status=data["status"],
            reason=data["reason"],
            user=request.user,
        )
    except ValidationError as exc:
        messages.error(request, f"{animal.code}: {' '.join(exc.messages)}")
    else:
        messages.success(request, f"{animal.code}: dose {record.get_status_display().lower()}.")
    return _back(request, reverse("studies:today"))


@login_required
@require_POST
@locked_guard
def weight_record(request, slug: str):
    study, _role = access.study_for(user=request.user, slug=slug, action=access.RECORD)
    form = WeightForm(request.POST)
    default = reverse("studies:today") + "?focus=weight"
    if not form.is_valid():
        messages.error(request, f"Weight not recorded: {form.errors.as_text()}")
        return _back(request, default)
    animal = get_object_or_404(Animal, pk=form.cleaned_data["animal"], study=study)
    try:
        weight = services.body_weight_record(
            animal=animal,
            date=form.cleaned_data["date"] or timezone.localdate(),
            grams=form.cleaned_data["grams"],
            user=request.user,
        )
    except ValidationError as exc:
        messages.error(request, f"{animal.code}: {' '.join(exc.messages)}")
    else:
        messages.success(request, f"{animal.code}: {weight.grams:g} g recorded.")
    return _back(request, default)
