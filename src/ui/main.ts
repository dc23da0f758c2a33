// The web app's entry point (index.html loads it).
import "./app-shell.ts";
