"""The study-skills coach: rates a student's question (specific? names the subject?
gives context?) and proposes a better one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.text.textnorm import tokenize

# The more specific subjects first: guess_subject takes the first that matches ("дүниежүзі
# тарихы" is world history before it is history).
SUBJECT_WORDS = {
    "kazakh-literature": ["қазақ әдебиеті", "казахская литература", "kazakh literature"],
    "russian-literature": ["орыс әдебиеті", "русская литература", "russian literature"],
    "kazakh-language": ["қазақ тілі", "казахский язык", "kazakh language", "kazakh grammar"],
    "russian-language": ["орыс тілі", "русский язык", "russian language", "russian grammar"],
    "world-history": ["дүниежүзі тарихы", "всемирная история", "world history"],
    "english": ["ағылшын тілі", "английский", "english"],
    "arts": ["музыка", "music", "искусство", "бейнелеу өнері", "сәндік-қолданбалы"],
    "biology": ["биология", "biology", "биологи"],
    "geography": ["география", "geography"],
    "history": ["тарих", "история", "history"],
    "physics": ["физика", "physics"],
    "chemistry": ["химия", "chemistry"],
    "mathematics": ["математика", "алгебра", "геометрия", "math", "maths", "mathematics",
                    "algebra", "geometry"],
    "informatics": ["информатика", "informatics", "computer science", "программирование",
                    "бағдарламалау", "python"],
    "ai-literacy": ["жасанды интеллект", "искусственный интеллект", "artificial intelligence",
                    "нейросеть", "chatgpt", "чат-бот", "чатбот", "chatbot", "ии", "ai"],
}
VAGUE = re.compile(
    r"^\s*(help|help me|explain( this| it)?|i don'?t (get|understand)( it)?|what is this|"
    r"помоги(те)?|объясни(те)?( это)?|не понимаю|что это|"
    r"көмектес(іңіз)?|түсіндір(іңіз)?( мұны)?|түсінбеймін|бұл не)\s*[?!.]*\s*$",
    re.IGNORECASE)
CONTEXT = re.compile(
    r"(\d+\s*-?\s*(сынып|класс|grade)|(сынып|класс|grade)\w*\s*\d+|\bgrade\b|сынып|класс|"
    r"i know|i learned|we (are )?stud|i understand|i don'?t understand why|my teacher|"
    r"я знаю|мы изучаем|мы проходим|я понял|не понимаю, почему|учитель|по учебнику|"
    r"білемін|өтіп жатырмыз|оқып жатырмыз|түсінемін|мұғалім|оқулықта)",
    re.IGNORECASE)


@dataclass
class Rating:
    specific: bool
    names_subject: bool
    gives_context: bool

    @property
    def score(self) -> int:
        return int(self.specific) + int(self.names_subject) + int(self.gives_context)


def rate_question(question: str, topic_vocabulary: set[str] | None = None) -> Rating:
    lowered = question.lower()
    content = tokenize(question)
    specific = (not VAGUE.match(question) and len(content) >= 2 and len(question.split()) >= 4)
    names_subject = any(w in lowered for words in SUBJECT_WORDS.values() for w in words
                        if len(w) > 2 or re.search(rf"\b{re.escape(w)}\b", lowered))
    if not names_subject and topic_vocabulary:
        names_subject = any(tok in topic_vocabulary for tok in content)
    gives_context = bool(CONTEXT.search(question))
    return Rating(specific, names_subject, gives_context)


def guess_subject(question: str) -> str:
    lowered = question.lower()
    for subject, words in SUBJECT_WORDS.items():
        if any(w in lowered for w in words):
            return subject
    return ""
