import { useEffect, useState } from "react";

/**
 * The time, as state: it moves every half second while `ticking` (a live run, so that running
 * bars grow) and stands still otherwise. Reading the clock while rendering would make a render
 * depend on when it happens.
 */
export function useNow(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return undefined;
    const tick = () => setNow(Date.now());
    const timer = setInterval(tick, 500);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}
