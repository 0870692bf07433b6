import { render } from "preact";
import { App } from "./ui/App.tsx";
import { lang } from "./i18n.ts";
import "./style.css";

document.documentElement.lang = lang.value;
render(<App />, document.getElementById("app")!);
