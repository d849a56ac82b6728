// The moderation page after someone left: the channel key is stale, and SPEC §5 wants the
// moderator's client that removed them to start the next epoch at once. This runs the
// channel page's own key code (epochs.js, as a moderator) with the key panel, so the new
// epoch and its shares for the remaining members are made right here, nobody clicking.
import { ChannelKeys } from "./epochs.js";
import { format, pageText, setUpKeyPanel } from "./keys-panel.js";

const config = JSON.parse(document.getElementById("rotation-config").textContent);
const status = document.getElementById("e2ee-status");
const text = pageText();
const keys = new ChannelKeys({
  channel: config.channel,
  username: config.username,
  historyVisibility: config.historyVisibility,
  isModerator: true,
});

function showKeyState() {
  status.dataset.state = keys.state;
  // "ready" here means the stale key was replaced: the page says that, not the channel's line.
  const line = keys.state === "ready" ? status.dataset.replaced : text.channel[keys.state];
  status.textContent = format(line ?? "", { message: keys.error?.message ?? "" });
  status.hidden = !status.textContent;
}
keys.addEventListener("change", showKeyState);
showKeyState();

const panel = setUpKeyPanel(document.getElementById("keys-panel"), text, {
  onMissing: () => keys.setIdentity(null),
});
panel.ready.then((record) => keys.setIdentity(record));

window.exchangeKeys = keys; // for tests and debugging in the console
