from behavior.urls_dashboard import urlpatterns as dashboard_urlpatterns
from behavior.urls_entry import urlpatterns as entry_urlpatterns

app_name = "behavior"

urlpatterns = entry_urlpatterns + dashboard_urlpatterns
