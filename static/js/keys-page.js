// The key page and the catalogue: only the key panel.
import { pageText, setUpKeyPanel } from "./keys-panel.js";

setUpKeyPanel(document.getElementById("keys-panel"), pageText());
