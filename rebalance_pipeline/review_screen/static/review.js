// Every htmx request sends back the CSRF cookie (starlette-csrf's double submit) as a header.
document.addEventListener("htmx:configRequest", function (event) {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) {
    event.detail.headers["x-csrftoken"] = decodeURIComponent(match[1]);
  }
});
