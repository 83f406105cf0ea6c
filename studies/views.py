from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def today(request):
    return render(request, "base.html", {"nav": "today"})


@login_required
def study_list(request):
    return render(request, "base.html", {"nav": "studies"})
