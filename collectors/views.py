from django.http import HttpResponse


def scan_list(request):
    return HttpResponse("scans")


def scan_detail(request, scan_id):
    return HttpResponse("scan")
