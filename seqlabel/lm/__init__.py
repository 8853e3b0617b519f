"""Language models and lexicons for decoding: back-off n-gram LMs (train, ARPA read/write, cached
scoring in natural log) and a prefix-trie lexicon. Pure Python; nothing native."""
from seqlabel.lm.corpus import read_texts, tokenize, train_lm
from seqlabel.lm.lexicon import Lexicon, TrieNode
from seqlabel.lm.ngram import NgramLM, modified_kn_discounts

__all__ = ["Lexicon", "NgramLM", "TrieNode", "modified_kn_discounts", "read_texts", "tokenize", "train_lm"]
