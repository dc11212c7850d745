"""Teaching behaviour: the hint ladder, quizzes, the study-skills coach, and the questions no
lesson can know (tomorrow's weather, the news, a phone number)."""
