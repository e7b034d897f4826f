"""Soil traceability: transfer tickets (e-tickets with QR), confirmation at the receiving
site, 確認結果票, 受領書 and the 実施書 export, kept append-only for five years."""
