// The web calculator's own script (no library, no CDN). The page works without it: the form's GET submit
// carries the request in the URL and the server answers with the whole page. With it, a submit fetches only the
// answer block from /fragment (the same renderer), swaps it in and puts the request in the address bar, so the
// link still names the request.
"use strict";
(function () {
  const form = document.getElementById("request");
  const answer = document.getElementById("answer");
  if (!form || !answer || !window.fetch) return;
  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (String(value).trim() !== "") params.append(key, String(value));
    }
    return params.toString();
  }
  async function submit(event) {
    event.preventDefault();
    const q = query();
    answer.setAttribute("aria-busy", "true");
    try {
      const reply = await fetch("/fragment?" + q, { headers: { Accept: "text/html" } });
      answer.innerHTML = await reply.text();
      history.pushState(null, "", "/?" + q);
    } catch (err) {
      form.submit();  // the network failed: let the browser load the whole page
    } finally {
      answer.removeAttribute("aria-busy");
    }
  }
  form.addEventListener("submit", submit);
  window.addEventListener("popstate", function () { window.location.reload(); });
})();
