from rest_framework.throttling import SimpleRateThrottle

from organisations.api.principal import caller_organisation


class OrganisationRateThrottle(SimpleRateThrottle):
    """One request budget per organisation, shared by all its keys and all web processes."""

    scope = "organisation"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        organisation = caller_organisation(request) if request.user else None
        if organisation is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"org{organisation.pk}"}
