"""v2 REST routes (`/v2/public/...`), one module per resource. api/urls.py includes the
`urlpatterns` of every module here that defines one."""
