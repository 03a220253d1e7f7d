"""The project's URLs plus `/bench/bare/`: the cheapest Django view that reads a POSTed body and answers
JSON, through the same middleware as every other view. The webhook's rate is reported against it."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cxhub.urls import urlpatterns as project_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    # Read the body like the webhook does, so both views pay for receiving the same bytes.
    return JsonResponse({"status": "received", "bytes": len(request.body)})


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *project_urlpatterns]
