"""Connection insights: a projection over the whole history answering "is this team connected?"
(``domain/``), rendered as text, JSON or one self-contained HTML page (``render``, ``page``) by
``rituals insights`` (``cli``)."""
