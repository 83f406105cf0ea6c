"""The admin site for the lab's administrator: find things fast; the audit trail is read-only.

Research data are changed through the pages, the API and the commands, which keep the audit
trail; the admin is for looking things up and for fixing memberships and settings.
"""

from django.contrib import admin

from studies.models import (
    Agent,
    Allocation,
    Animal,
    BodyWeight,
    ChangeRecord,
    Comparison,
    DoseRecord,
    DosingSchedule,
    Membership,
    Study,
    StudyAssay,
    Timepoint,
    TreatmentGroup,
)


class StudyAssayInline(admin.TabularInline):
    model = StudyAssay
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TreatmentGroupInline(admin.TabularInline):
    model = TreatmentGroup
    extra = 0


class TimepointInline(admin.TabularInline):
    model = Timepoint
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "species", "status", "blinded", "day0", "synthetic"]
    list_filter = ["status", "species", "blinded", "synthetic"]
    search_fields = ["slug", "title", "description"]
    readonly_fields = ["created_at", "updated_at", "version"]
    inlines = [StudyAssayInline, MembershipInline, TreatmentGroupInline, TimepointInline]

    def has_delete_permission(self, request, obj=None):
        # Research data are never deleted: an animal is excluded, a study locked.
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["study", "user", "role"]
    list_filter = ["role"]
    search_fields = ["study__slug", "user__username"]
    list_select_related = ["study", "user"]
    autocomplete_fields = ["user"]


@admin.register(TreatmentGroup)
class TreatmentGroupAdmin(admin.ModelAdmin):
    list_display = ["study", "code", "name", "control", "blind_label", "order"]
    search_fields = ["study__slug", "code", "name"]
    list_select_related = ["study"]


@admin.register(Animal)
class AnimalAdmin(admin.ModelAdmin):
    list_display = ["code", "study", "group", "cage", "sex", "status"]
    list_filter = ["status", "sex"]
    search_fields = ["code", "cage", "study__slug"]
    list_select_related = ["study", "group"]
    readonly_fields = ["version"]

    # Changed only through the pages, the API and the commands, which keep the audit trail.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin):
    list_display = ["study", "created_at", "balanced_on", "seed", "created_by"]
    search_fields = ["study__slug"]
    list_select_related = ["study", "created_by"]
    readonly_fields = [f.name for f in Allocation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name"]


@admin.register(DosingSchedule)
class DosingScheduleAdmin(admin.ModelAdmin):
    list_display = ["study", "group", "agent", "dose", "unit", "route", "stock_concentration"]
    list_filter = ["unit", "route"]
    search_fields = ["study__slug", "agent__name", "group__code"]
    list_select_related = ["study", "group", "agent"]


@admin.register(DoseRecord)
class DoseRecordAdmin(admin.ModelAdmin):
    list_display = ["animal", "schedule", "day", "status", "volume_ml", "recorded_by"]
    list_filter = ["status"]
    search_fields = ["animal__code", "animal__study__slug"]
    list_select_related = ["animal", "schedule__group", "schedule__agent", "recorded_by"]
    readonly_fields = ["recorded_at", "version"]

    # Changed only through the pages, the API and the commands, which keep the audit trail.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BodyWeight)
class BodyWeightAdmin(admin.ModelAdmin):
    list_display = ["animal", "date", "grams", "recorded_by"]
    search_fields = ["animal__code", "animal__study__slug"]
    date_hierarchy = "date"
    list_select_related = ["animal", "recorded_by"]
    readonly_fields = ["recorded_at", "version"]

    # Changed only through the pages, the API and the commands, which keep the audit trail.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Timepoint)
class TimepointAdmin(admin.ModelAdmin):
    list_display = ["study", "label", "day"]
    search_fields = ["study__slug", "label"]
    list_select_related = ["study"]


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["study", "reference", "group", "symbol", "order"]
    search_fields = ["study__slug"]
    list_select_related = ["study", "reference", "group"]


@admin.register(ChangeRecord)
class ChangeRecordAdmin(admin.ModelAdmin):
    """The audit trail: to read, never to change."""

    list_display = ["at", "study", "entity", "object_id", "action", "user", "via", "reason"]
    list_filter = ["entity", "action", "via"]
    search_fields = ["study__slug", "entity", "reason", "user__username"]
    list_select_related = ["study", "user"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in ChangeRecord._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
