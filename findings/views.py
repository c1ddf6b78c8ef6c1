from django.http import HttpResponse


def overview(request):
    return HttpResponse("overview")


def account_detail(request, account_pk):
    return HttpResponse("account")


def resource_detail(request, resource_pk):
    return HttpResponse("resource")
