"""Teaching behaviour: the hint ladder, quizzes and the study-skills coach."""
