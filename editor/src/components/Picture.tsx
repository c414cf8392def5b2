import { memo, useState } from "react";

/**
 * An image from a URL, or, where it cannot be loaded (an offline install, a provider's expired
 * link, a host that refuses it), a notice that says so and names the host: never the browser's
 * broken-image icon.
 */
export const Picture = memo(function Picture({ url, alt, testId }: { url: string; alt: string; testId?: string }) {
  // Which URL failed, not a flag: a new URL on the same node gets its own try.
  const [failed, setFailed] = useState<string | null>(null);
  if (failed === url) {
    return (
      <span className="wf-picture-missing" data-testid="picture-unavailable" title={url}>
        Image unavailable
        <small>{hostOf(url)}</small>
      </span>
    );
  }
  return (
    <img
      src={url}
      alt={alt}
      loading="lazy"
      referrerPolicy="no-referrer"
      data-testid={testId}
      onError={() => setFailed(url)}
    />
  );
});

function hostOf(url: string): string {
  try {
    return new URL(url, window.location.href).host;
  } catch {
    return "";
  }
}
