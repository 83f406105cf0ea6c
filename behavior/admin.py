"""The admin site's view of behavioural data: to look things up, never to change them.

Sessions, readings, entries and discrepancies change only through the services (pages, API,
commands), which reconcile double entry and keep the audit trail; an edit here would do
neither, so every model is read-only in the admin and nothing can be deleted from it.
"""

from django.contrib import admin

from behavior.models import Discrepancy, Entry, MeasurementSession, Reading


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    fields = ["experimenter", "value", "behavior", "entered_by", "entered_at", "version"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DiscrepancyInline(admin.TabularInline):
    model = Discrepancy
    extra = 0
    fields = ["status", "values", "resolved_value", "reason", "note", "resolved_by", "resolved_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(MeasurementSession)
class MeasurementSessionAdmin(ReadOnlyAdmin):
    list_display = ["study", "timepoint", "assay", "date", "status", "instrument"]
    list_filter = ["assay", "status"]
    search_fields = ["study__slug", "timepoint__label", "instrument"]
    list_select_related = ["study", "timepoint"]
    date_hierarchy = "date"


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = ["session", "animal", "footpad", "application", "value", "behavior", "state"]
    list_filter = ["state", "assay", "footpad"]
    search_fields = ["animal__code", "session__study__slug"]
    list_select_related = ["session__study", "session__timepoint", "animal"]
    inlines = [EntryInline, DiscrepancyInline]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["reading", "experimenter", "value", "behavior", "entered_by", "entered_at"]
    search_fields = ["experimenter", "reading__animal__code", "reading__session__study__slug"]
    list_select_related = ["reading__animal", "entered_by"]
    date_hierarchy = "entered_at"


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ["reading", "status", "values", "resolved_value", "reason", "resolved_by"]
    list_filter = ["status", "reason"]
    search_fields = ["reading__animal__code", "reading__session__study__slug", "note"]
    list_select_related = ["reading__animal", "resolved_by"]
    date_hierarchy = "opened_at"
