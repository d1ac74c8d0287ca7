// The page: ask, stream the answer (server-sent events over fetch), show sources with a translation toggle.
"use strict";

const RTL = new Set(["ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"]);
const $ = (id) => document.getElementById(id);
let answerLang = null;
// Why the answer is in its language, when it is not simply the question's.
const WHY = {
  client: " (your browser's language: the question's was unsure)",
  index: " (the language of most sources: the question's was unsure)",
};

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

// The service's 503 detail starts "the LLM is unavailable: "; say it once, in the page's words.
function unavailable(detail) {
  return `The answering model is unavailable: ${String(detail || "").replace(/^the LLM is unavailable: /, "")}`;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function loadLanguages() {
  try {
    const health = await (await fetch("/health")).json();
    for (const lang of health.languages || []) {
      const option = document.createElement("option");
      option.value = lang;
      option.textContent = lang;
      $("languages").appendChild(option);
    }
  } catch (e) {
    setStatus("The service does not answer.", true);
  }
}

// A source card: its language (also as the text's lang attribute, right-to-left where the script is),
// document id, snippet, and a toggle between the original and a translation into the answer's language.
function card(passage, number) {
  const li = document.createElement("li");
  li.className = "card";
  li.id = `source-${number}`;
  const meta = document.createElement("div");
  meta.className = "meta";
  const lang = document.createElement("span");
  lang.className = "lang";
  lang.textContent = passage.lang || "?";
  lang.title = "language of this source";
  const doc = document.createElement("span");
  doc.className = "doc";
  doc.textContent = passage.doc_id;
  meta.append(lang, doc);
  const snippet = document.createElement("p");
  snippet.className = "snippet";
  snippet.textContent = passage.text;
  if (passage.lang) {
    snippet.lang = passage.lang;
    snippet.dir = RTL.has(passage.lang) ? "rtl" : "ltr";
  }
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "toggle";
  toggle.textContent = "Show translation";
  toggle.setAttribute("aria-pressed", "false");
  let translated = null;
  toggle.addEventListener("click", async () => {
    const showing = toggle.getAttribute("aria-pressed") === "true";
    if (showing) {
      snippet.textContent = passage.text;
      snippet.lang = passage.lang;
      snippet.dir = RTL.has(passage.lang) ? "rtl" : "ltr";
      toggle.textContent = "Show translation";
      toggle.setAttribute("aria-pressed", "false");
      return;
    }
    const target = answerLang || "en";
    if (translated === null) {
      toggle.disabled = true;
      toggle.textContent = "Translating...";
      try {
        const resp = await fetch("/translate", {
          method: "POST",
          headers: headers(),
          body: JSON.stringify({ text: passage.text, source_lang: passage.lang, target_lang: target }),
        });
        const body = await resp.json();
        if (!resp.ok) throw new Error(body.detail || resp.statusText);
        translated = body.text;
      } catch (e) {
        toggle.disabled = false;
        toggle.textContent = "Show translation";
        setStatus(`Translation failed: ${e.message}`, true);
        return;
      }
      toggle.disabled = false;
    }
    snippet.textContent = translated;
    snippet.lang = target;
    snippet.dir = RTL.has(target) ? "rtl" : "ltr";
    toggle.textContent = "Show original";
    toggle.setAttribute("aria-pressed", "true");
  });
  li.append(meta, snippet, toggle);
  return li;
}

function showAnswer(answer) {
  answerLang = answer.lang;
  const box = $("answer");
  box.lang = answer.lang;
  box.dir = RTL.has(answer.lang) ? "rtl" : "ltr";
  box.textContent = answer.text || "";
  for (const n of answer.citations || []) {
    const cited = $(`source-${n}`);
    if (cited) cited.classList.add("cited");
  }
  if (answer.error) setStatus(answer.error, true);
  else {
    const why = WHY[answer.answer_lang_source] || "";
    const cited = (answer.citations || []).map((n) => `[${n}]`).join(" ") || "no source";
    setStatus(`Answered in ${answer.lang}${why}, citing ${cited}.`);
  }
}

async function ask(event) {
  event.preventDefault();
  const query = $("question").value.trim();
  if (!query) return;
  const languages = [...$("languages").selectedOptions].map((o) => o.value);
  $("answer").textContent = "";
  $("answer").dataset.pieces = "0";
  $("sources").replaceChildren();
  $("submit").disabled = true;
  setStatus("Searching...");
  try {
    const resp = await fetch("/answer/stream", {
      method: "POST",
      headers: headers(),
      // the browser's language answers when the question's own is unsure ("Eiffel tower" could be many)
      body: JSON.stringify({
        query,
        k: 5,
        languages: languages.length ? languages : null,
        client_lang: navigator.language || null,
      }),
    });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      const why = body.detail || resp.statusText;
      setStatus(resp.status === 503 ? unavailable(why) : why, true);
      return;
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "{}");
        if (name === "sources") {
          data.passages.forEach((p, i) => $("sources").appendChild(card(p, i + 1)));
          if (data.lang) {
            answerLang = data.lang;
            $("answer").lang = data.lang;
            $("answer").dir = RTL.has(data.lang) ? "rtl" : "ltr";
          }
          setStatus("Writing the answer...");
        } else if (name === "token") {
          // the answer as the model writes it; the "answer" event replaces it with the final text
          $("answer").textContent += data.text;
          $("answer").dataset.pieces = String(Number($("answer").dataset.pieces || 0) + 1);
        } else if (name === "answer") {
          showAnswer(data);
        } else if (name === "error") {
          $("answer").textContent = "";
          setStatus(data.status === 503 ? unavailable(data.detail) : data.detail, true);
        }
      }
    }
  } catch (e) {
    setStatus(`The service does not answer: ${e.message}`, true);
  } finally {
    $("submit").disabled = false;
  }
}

// The hint under the language filter says what the filter does now.
$("languages").addEventListener("change", () => {
  const chosen = [...$("languages").selectedOptions].map((o) => o.value);
  $("languages-hint").textContent = chosen.length ? `Only: ${chosen.join(", ")}.` : "None selected: all languages.";
});
$("ask").addEventListener("submit", ask);
loadLanguages();
