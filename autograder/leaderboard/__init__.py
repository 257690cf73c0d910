"""The class challenge: prediction files ranked on hidden labels (rules, ranking, report).

The command is :func:`autograder.leaderboard.board.leaderboard`.
"""
