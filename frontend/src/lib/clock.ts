// One shared clock for everything that counts (uptimes, countdowns, "ago"): a signal updated once a
// second, so 200 rows of ticking text cost one timer, and only the text nodes bound to it update.
import { signal } from "@preact/signals";

export const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 1000);
