// The page forma-serve answers GET / with: a prompt, the sampling settings, a button; the text
// streams in from POST /v1/generate (fetch + ReadableStream, SSE events parsed as they arrive).
// ?prompt=...&max_tokens=...&temperature=...&autorun=1 fills the form and presses the button (the
// headless Chromium test, tests/server/serve_test.py playground).
#pragma once

namespace forma_serve {

inline constexpr const char* playground_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>forma-serve playground</title>
<style>
body { font-family: sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; }
textarea { width: 100%; height: 6em; font: inherit; }
label { margin-right: 1em; }
input[type=number] { width: 5em; }
#output { white-space: pre-wrap; border: 1px solid #ccc; padding: 0.75em; min-height: 8em; margin-top: 1em; }
#status { color: #666; margin-top: 0.5em; }
</style>
</head>
<body>
<h1>forma-serve</h1>
<p id="model"></p>
<textarea id="prompt">Once upon a time</textarea>
<div>
<label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.8"></label>
<label>max_tokens <input id="max_tokens" type="number" min="1" step="1" value="128"></label>
<button id="generate">Generate</button>
</div>
<div id="output"></div>
<div id="status"></div>
<script>
const $ = (id) => document.getElementById(id);
fetch('/v1/models').then((r) => r.json()).then((j) => { $('model').textContent = 'model: ' + j.data[0].id; })
  .catch(() => {});

async function generate() {
  const button = $('generate');
  button.disabled = true;
  $('output').textContent = '';
  $('status').textContent = 'generating…';
  const body = {
    prompt: $('prompt').value,
    temperature: Number($('temperature').value),
    max_tokens: Number($('max_tokens').value),
    stream: true,
  };
  try {
    const response = await fetch('/v1/generate', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    if (!response.ok) {
      const error = await response.json();
      throw new Error(error.error.message + (error.error.field ? ' (' + error.error.field + ')' : ''));
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = JSON.parse(line.slice(6));
          if (data.error) throw new Error(data.error.message);
          if (data.text) $('output').textContent += data.text;
          if (data.done) {
            $('status').textContent = 'done: ' + data.stop_reason + ', ' + data.prompt_tokens +
              ' prompt tokens, ' + data.completion_tokens + ' generated';
          }
        }
      }
    }
  } catch (error) {
    $('status').textContent = 'error: ' + error.message;
  } finally {
    button.disabled = false;
  }
}

$('generate').addEventListener('click', generate);
const query = new URLSearchParams(location.search);
for (const name of ['prompt', 'temperature', 'max_tokens']) {
  if (query.has(name)) $(name).value = query.get(name);
}
if (query.get('autorun') === '1') $('generate').click();
</script>
</body>
</html>
)html";

}  // namespace forma_serve
