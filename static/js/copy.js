// Copy text to the clipboard. The clipboard API needs a secure context (https or localhost);
// elsewhere fall back to selecting the text in a hidden textarea.
window.wireflowCopyText = function copyText(text) {
  const viaApi = navigator.clipboard && window.isSecureContext
    ? navigator.clipboard.writeText(text) : Promise.reject(new Error("no clipboard API"));
  return viaApi.catch(() => new Promise((resolve, reject) => {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    copied ? resolve() : reject(new Error("copy refused"));
  }));
};
