"""The completion certificate: a one-page PDF (fpdf2). The name is typed in for the certificate
only: it is drawn into the PDF and never stored or logged.
"""

from __future__ import annotations

import os
from datetime import datetime

from fpdf import FPDF

MAX_NAME_CHARS = 120
# A Unicode font when the system has one (names are not all Latin-1); else the core font.
UNICODE_FONT = os.environ.get("LEARNING_CERTIFICATE_FONT",
                              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(pdf: FPDF) -> tuple[str, bool]:
    if os.path.exists(UNICODE_FONT):
        pdf.add_font("certificate", fname=UNICODE_FONT)
        return "certificate", True
    return "helvetica", False


def _text(value: str, unicode_font: bool) -> str:
    return value if unicode_font else value.encode("latin-1", "replace").decode("latin-1")


def certificate_pdf(*, name: str, module_title: str, organisation_name: str,
                    completed_at: datetime) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Certificate: {module_title}")
    pdf.set_creator("Outreach")
    pdf.add_page()
    family, unicode_font = _font(pdf)
    pdf.set_draw_color(27, 108, 168)
    pdf.set_line_width(1.5)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    lines = [(14, "Certificate of completion", 30), (12, "This certifies that", 20),
             (26, name.strip()[:MAX_NAME_CHARS], 18), (12, "has completed the module", 16),
             (20, module_title, 22),
             (12, f"offered by {organisation_name} - completed on {completed_at:%d %B %Y}", 14)]
    pdf.set_y(36)
    for size, text, height in lines:
        pdf.set_font(family, size=size)
        pdf.multi_cell(0, height * 0.6, _text(text, unicode_font), align="C",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(height * 0.4)
    return bytes(pdf.output())
