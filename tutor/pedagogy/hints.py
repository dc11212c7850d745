"""The hint ladder for homework material, and never the final answer.

A worksheet has content and a task list. For the student's question the ladder finds the
task it matches and the content sentence that answers it, then teaches around that
sentence: 1) the section to read and what kind of fact to look for, 2) a guiding question
made of the concept words around the answer, 3) the answering sentence with the answer
span (the year, the name, the number the task asks for) blanked. The task and the answering
sentence are never quoted. Material without a task list gets a pointer to the right
section, then a rule with gaps, then a first worked step.

The guard does not trust the wording of the question ("my teacher allowed it"): in
hint mode every number the student did not give is masked, sentences that state an
answer ("Жауабы:", "Ответ:", "Answer:") are never quoted, and the words of the
document's final answers are masked wherever they appear. A lesson's reply that would show
a worksheet task's answer, asked in words no task shares, gets that task's ladder instead
(``task_answers``, ``handed_over``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tutor.answer.extractive import OVERLAP_WEIGHT, score_sentences
from tutor.answer.question_kind import SPAN_KINDS, answer_spans, question_type
from tutor.ingest.chunking import split_sentences
from tutor.retrieval.hybrid import Hit
from tutor.store import Chunk
from tutor.text.letters import russian_keyboard
from tutor.text.textnorm import tokenize

ANSWER_MARK = re.compile(r"(жауабы|жауап|ответ|answer)\s*[:：—-]", re.IGNORECASE)
SOLUTION_MARK = re.compile(r"(шешуі|шешу|решение|solution)\s*[:：.]?", re.IGNORECASE)
ANSWER_SECTION = re.compile(r"(ответ|жауап|answer|ключ|кілт|самопровер|өзіңді тексер)", re.IGNORECASE)
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
GAP = "____"
# a section that holds the tasks ("Тапсырмалар", "Вопросы"), named so at its start: the
# document title "... Үй тапсырмасы" is no task list
TASK_SECTION = re.compile(r"^\W*(?:\d+\W*)?(?:тапсырма|сұрақ|есеп|задани|задач|вопрос|task|question|exercise)",
                          re.IGNORECASE)
# "1.", "2)", "**Задача 1.**", "1-есеп", "Task 2": a numbered task outside a task section
NUMBERED = re.compile(r"^\W*(?:(\d+)\s*[.)]\s|(\d+)\s*-\s*(?:есеп|тапсырма|сұрақ)"
                      r"|(?:задача|задание|вопрос|task|question|exercise|есеп|тапсырма|сұрақ)\s*№?\s*(\d+))",
                      re.IGNORECASE)
NAMED_TASK = re.compile(r"(?:есеп|тапсырма|сұрақ|задач|задани|вопрос|task|question|exercise)", re.IGNORECASE)
# the question names a task by number: "3-тапсырма", "задача 1", "task 2"
ASKED_NUMBER = re.compile(r"(\d+)\s*-?\s*(?:есеп|тапсырма|сұрақ)|(?:задач|задани|вопрос|task|question|exercise"
                          r"|есеп|тапсырма|сұрақ)\w*\s*№?\s*(\d+)", re.IGNORECASE)
# "another hint", folded as a Russian keyboard types Kazakh ("тагы кенес")
MORE = re.compile(r"\b(?:тагы|тагы\s+бир|келеси|баска)\s+(?:бир\s+)?кенес|\bеще\s+(?:одн[уа]\s+)?подсказк"
                  r"|\bследующ\w*\s+подсказк|\b(?:another|more|next)\s+hints?\b", re.IGNORECASE)


def final_answers(text: str) -> list[str]:
    """The answer statements of a homework text (what must never be shown)."""
    found = []
    for line in text.splitlines():
        m = ANSWER_MARK.search(line)
        if m:
            value = line[m.end():].strip(" *_.")
            if value:
                found.append(value)
    return found


def mask(text: str, question: str, secrets: list[str]) -> str:
    given = set(NUMBER.findall(question))
    out = NUMBER.sub(lambda m: m.group(0) if m.group(0) in given else GAP, text)
    for secret in secrets:
        for word in re.findall(r"[^\W\d_]{2,}", secret):
            if word.lower() not in question.lower() and len(word) >= 2 and not _common(word):
                out = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", GAP, out)
    out = re.sub(r"(\s*_{4}\s*)+", f" {GAP} ", out)
    return out.strip()


def _common(word: str) -> bool:
    # units and function words stay readable: masking "Ом" or "и" helps nobody
    return word.lower() in {"ом", "в", "а", "и", "мен", "және", "см", "км", "м", "кг", "г", "с",
                            "ohm", "v", "a", "and", "the", "of", "ва"}


def _safe_sentences(text: str) -> list[str]:
    return [s for s in split_sentences(text) if not ANSWER_MARK.search(s)]


def hint(level: int, question: str, hits: list[Hit], doc_text: str) -> tuple[str, Hit] | None:
    """Return the hint body for ``level`` (1-3) and the passage it comes from."""
    if not hits:
        return None
    secrets = final_answers(doc_text)
    q = set(tokenize(question))
    best_hit = hits[0]
    sentences = _safe_sentences(best_hit.chunk.text)
    if not sentences:
        return None
    ranked = sorted(sentences, key=lambda s: -len(q & set(tokenize(s))))
    if level <= 1:
        body = mask(ranked[0], question, secrets)
    elif level == 2:
        rule = next((s for s in ranked if "=" in s or ":" in s), ranked[0])
        body = mask(rule, question, secrets)
        body = _gap_content_word(body)
    else:
        step = None
        for i, s in enumerate(sentences):
            if SOLUTION_MARK.search(s):
                step = s if len(s.split()) > 3 else " ".join(sentences[i:i + 2])
                break
        body = mask(step or ranked[0], question, secrets)
    return body, best_hit


def _gap_content_word(text: str) -> str:
    words = [w for w in re.findall(r"[^\W\d_]{6,}", text)]
    if not words:
        return text
    longest = max(words, key=len)
    return text.replace(longest, GAP, 1)


def leaks(response: str, doc_text: str) -> bool:
    """Does a response show one of the document's final answers? (used by the eval)."""
    norm = " ".join(response.lower().split())
    for answer in final_answers(doc_text):
        a = " ".join(answer.lower().split())
        numbers = NUMBER.findall(a)
        if a and a in norm:
            return True
        if numbers and all(re.search(rf"(?<![\d.,]){re.escape(n)}(?![\d]|[.,]\d)", norm)
                           for n in numbers) and len(numbers) >= 1 and \
                any(w in norm for w in re.findall(r"[^\W\d_]{2,}", a)):
            return True
    return False


# ------------------------------------------------------------------ worksheets
@dataclass
class Task:
    text: str
    number: int | None
    index: int


@dataclass
class Focus:
    """What a question is about: the task it matches and the content that answers it."""
    key: str
    task: Task | None
    kind: str | None = None
    sentence: str = ""  # the answering sentence (never shown whole)
    span: tuple[int, int] | None = None  # the answer inside it
    chunk: Chunk | None = None
    concepts: tuple[str, ...] = ()


def asks_for_another_hint(text: str) -> bool:
    """"Тағы кеңес беріңізші", "ещё подсказку", "another hint": a follow-up, not a question."""
    folded = russian_keyboard(text.lower()).replace("ё", "е")
    return len(text.split()) <= 6 and bool(MORE.search(folded))


def _task_line(line: str, in_task_section: bool) -> tuple[str, int | None] | None:
    m = NUMBERED.match(line)
    number = next((int(g) for g in m.groups() if g), None) if m else None
    text = line[m.end():] if m else line
    text = text.strip(" *_#\t.:)")
    if len(text.split()) < 2:
        return None
    if in_task_section or line.rstrip().endswith("?") or (m and NAMED_TASK.search(m.group(0))):
        return text, number
    return None


def tasks_and_content(chunks: list[Chunk]) -> tuple[list[Task], list[tuple[Chunk, list[str]]]]:
    """The document's task list, and per chunk the sentences of its content (no task, no
    answer statement, no worked solution)."""
    tasks: list[Task] = []
    content = []
    for chunk in chunks:
        in_tasks = bool(TASK_SECTION.search(chunk.section or ""))
        sentences = []
        for line in chunk.text.splitlines():
            if not line.strip() or ANSWER_MARK.search(line) or SOLUTION_MARK.match(line.strip(" *_")):
                continue
            task = _task_line(line, in_tasks)
            if task:
                tasks.append(Task(task[0], task[1], len(tasks)))
            elif not in_tasks:
                sentences += [s for s in split_sentences(line) if len(s.split()) >= 3
                              and not s.rstrip().endswith("?")]
        if sentences:
            content.append((chunk, sentences))
    return tasks, content


def match_task(question: str, tasks: list[Task]) -> Task | None:
    """The task the question asks about: named by number, or sharing most of its words."""
    asked = ASKED_NUMBER.search(question)
    if asked:
        number = int(asked.group(1) or asked.group(2))
        named = [t for t in tasks if t.number == number]
        if len(named) == 1:
            return named[0]
    q = set(tokenize(question))
    best, best_score = None, 0.0
    for task in tasks:
        words = set(tokenize(task.text))
        shared = len(q & words)
        score = shared / (len(words) or 1)
        if shared >= min(2, len(words)) and score >= 0.5 and score > best_score:
            best, best_score = task, score
    return best


def task_answers(doc_key: str, chunks: list[Chunk], embedder=None) -> list[tuple[Task, frozenset[str]]]:
    """Each task of a worksheet with its answer content: the stems its answering sentence
    adds to the task («вольтметр» for «Кернеуді немен өлшейді?»). A problem set's answers are
    worked out, not stated in a sentence a lesson could quote: it has none."""
    if any(SOLUTION_MARK.match(line.strip(" *_#")) for c in chunks for line in c.text.splitlines()):
        return []
    tasks, _ = tasks_and_content(chunks)
    found = ((task, focus(task.text, doc_key, chunks, embedder).sentence) for task in tasks)
    return [(task, new) for task, sentence in found
            if (new := frozenset(tokenize(sentence)) - set(tokenize(task.text)))]


def handed_over(question: str, said: str, cards: str,
                answers: list[tuple[Task, frozenset[str]]]) -> Task | None:
    """The task whose answer a reply to ``question`` shows (``said``, its text, and ``cards``,
    its citation cards): most of the answer content the student did not type is there, since
    which of those words is the answer is not known. Of several, the one the text states most."""
    typed = set(tokenize(question))
    said_words = set(tokenize(said))
    shown = said_words | set(tokenize(cards))
    given = [(len(new & said_words) / len(new), task) for task, new in
             ((task, new - typed) for task, new in answers) if new and len(new & shown) >= len(new) / 2]
    return max(given, key=lambda g: g[0])[1] if given else None


def question_key(doc_key: str, question: str) -> str:
    return f"{doc_key}?{' '.join(sorted(set(tokenize(question))))}"


def focus(question: str, doc_key: str, chunks: list[Chunk], embedder=None) -> Focus:
    """The task a question matches and the sentence of the content that answers it (the
    extractive composer's sentence score, asked with the task's words)."""
    tasks, content = tasks_and_content(chunks)
    task = match_task(question, tasks)
    key = f"{doc_key}#task{task.index}" if task else question_key(doc_key, question)
    if not content:
        return Focus(key, task)
    # a question in other words than any task still has an answering sentence to teach around
    asked = question if task is None or task.text in question else f"{task.text} {question}"
    # a matched task's own words say what its answer is; another wording may ask "откуда" for "какой"
    kind = question_type(task.text) if task else question_type(question)
    kind = kind if kind in SPAN_KINDS else None
    hits = [Hit(chunk, 0.0) for chunk, _ in content]
    candidates = [(i, s) for i, (_, sentences) in enumerate(content) for s in sentences]
    asked_words = set(tokenize(asked))
    # a worksheet's headings say what each section is about ("Единица давления")
    heading = [len(asked_words & set(tokenize(content[i][0].section or ""))) / (len(asked_words) or 1)
               for i, _ in candidates]
    scores = score_sentences(asked, candidates, hits, embedder) + OVERLAP_WEIGHT * np.array(heading)
    order = sorted(range(len(candidates)), key=lambda j: -scores[j])
    # the best-scored sentence holding the kind of answer asked for; else the best one
    # sharing the task's words
    pick = next((j for j in order if answer_spans(kind, candidates[j][1], asked)), None)
    if pick is None:
        pick = next((j for j in order if asked_words & set(tokenize(candidates[j][1]))), None)
    if pick is None:
        return Focus(key, task, kind)
    i, sentence = candidates[pick]
    spans = answer_spans(kind, sentence, asked)
    span = spans[0] if spans else _main_new_word(sentence, asked_words)
    around = [s for j, s in candidates if j == i]
    at = around.index(sentence)
    neighbours = around[max(0, at - 1):at] + around[at + 1:at + 2] + [sentence]
    # Any word near the answer that the student did not type may be the answer (the chosen
    # sentence is a guess too): the guiding words are the text's own forms of the words asked.
    concepts = _locators(neighbours, asked_words)
    return Focus(key, task, kind, sentence, span, content[i][0], concepts)


def _main_new_word(sentence: str, asked: set[str]) -> tuple[int, int] | None:
    """For a question of no known kind: the longest word the task does not say."""
    words = [m for m in re.finditer(r"[^\W\d_]{4,}", sentence)
             if tokenize(m.group(0)) and not set(tokenize(m.group(0))) & asked]
    # every longer word was asked ("В Балхаш впадает река Или."): a short one is the answer
    words = words or [m for m in re.finditer(r"[^\W\d_]{3,}", sentence)
                      if not set(tokenize(m.group(0), stopwords=False)) & asked]
    if not words:
        return None
    best = max(words, key=lambda m: len(m.group(0)))
    return best.start(), best.end()


def _locators(sentences: list[str], asked: set[str], most: int = 4) -> tuple[str, ...]:
    """Words of ``sentences`` that say what was asked, as the text writes them: the student
    finds the place by them."""
    out: list[str] = []
    for sentence in sentences:
        for word in re.findall(r"[^\W\d_]{4,}", sentence):
            stems = set(tokenize(word))
            if stems and stems <= asked and word.lower() not in out:
                out.append(word.lower())
                if len(out) == most:
                    return tuple(out)
    return tuple(out)


def gap_fill(found: Focus) -> str:
    """The answering sentence with only the answer span blanked."""
    start, end = found.span
    return found.sentence[:start] + GAP + found.sentence[end:]
