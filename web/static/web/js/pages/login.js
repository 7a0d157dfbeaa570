// Log in or register, then back to where the visitor came from.
import * as auth from "../auth.js";
import { $, renderAccount, showError } from "../ui.js";

function next() {
  const target = new URLSearchParams(location.search).get("next") || "/";
  // Only a path of this site: never an open redirect.
  return target.startsWith("/") && !target.startsWith("//") ? target : "/";
}

function handle(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await action(form.elements.username.value, form.elements.password.value);
      location.assign(next());
    } catch (error) {
      showError($("#errors"), error.message);
      button.disabled = false;
    }
  });
}

renderAccount();
handle($("#login-form"), auth.login);
handle($("#register-form"), auth.register);
