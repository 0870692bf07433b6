import { useSignal } from "@preact/signals";
import { t, errorWords } from "../i18n.ts";
import { signIn, signUp, discovery } from "../state.ts";

/** Sign in, or create an account (with a registration token where the server is invite-only). */
export function Auth() {
  const mode = useSignal<"in" | "up">("in");
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  const policy = discovery.value?.registration ?? "open";

  async function submit(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const get = (k: string) => String(f.get(k) ?? "").trim();
    busy.value = true;
    error.value = null;
    try {
      if (mode.value === "in") await signIn(get("username"), String(f.get("password") ?? ""));
      else
        await signUp({
          username: get("username"),
          password: String(f.get("password") ?? ""),
          displayName: get("displayName") || undefined,
          registrationToken: get("registrationToken") || undefined,
        });
    } catch (err) {
      error.value = errorWords(err);
    } finally {
      busy.value = false;
    }
  }

  const up = mode.value === "up";
  return (
    <main class="auth" id="main">
      <h1>{t("app.name")}</h1>
      <h2>{up ? t("auth.signUp") : t("auth.signIn")}</h2>
      <form onSubmit={submit} aria-describedby={error.value ? "auth-error" : undefined}>
        <label>
          {t("auth.username")}
          <input name="username" autocomplete="username" required />
        </label>
        <label>
          {t("auth.password")}
          <input name="password" type="password" autocomplete={up ? "new-password" : "current-password"} required />
        </label>
        {up ? (
          <label>
            {t("auth.displayName")}
            <input name="displayName" autocomplete="name" />
          </label>
        ) : null}
        {up && policy === "invite-only" ? (
          <label>
            {t("auth.registrationToken")}
            <input name="registrationToken" required autocomplete="off" />
          </label>
        ) : null}
        {error.value ? (
          <p id="auth-error" class="error" role="alert">
            {error.value}
          </p>
        ) : null}
        <button type="submit" disabled={busy.value}>
          {up ? t("auth.signUp") : t("auth.signIn")}
        </button>
      </form>
      {policy !== "closed" || up ? (
        <p>
          <button type="button" class="link" onClick={() => ((mode.value = up ? "in" : "up"), (error.value = null))}>
            {up ? t("auth.toSignIn") : t("auth.toSignUp")}
          </button>
        </p>
      ) : null}
    </main>
  );
}
