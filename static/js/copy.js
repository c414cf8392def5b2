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

// Wires every Copy button on the page: a button with data-copy-target copies the text of the
// element with that id, and the `.copy-status` beside it says whether that worked. When it did
// not, the status asks the reader to select data-copy-what by hand; data-copied-label, where
// given, relabels the button once copied.
window.wireflowCopyButtons = function copyButtons() {
  document.querySelectorAll("[data-copy-target]").forEach((button) => {
    const status = button.parentElement.querySelector(".copy-status");
    const text = document.getElementById(button.dataset.copyTarget).textContent.trim();
    button.addEventListener("click", () => window.wireflowCopyText(text).then(
      () => {
        status.textContent = "Copied";
        if (button.dataset.copiedLabel) button.textContent = button.dataset.copiedLabel;
      },
      () => {
        const what = button.dataset.copyWhat;
        status.textContent = `Could not copy: select the ${what} and copy it by hand.`;
      }));
  });
};
