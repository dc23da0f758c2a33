// Example reviews for the prediction page, written for this app (not taken from the
// dataset): clear cases both ways, a mixed one, negations and a short one.

export interface ExampleReview {
  title: string;
  text: string;
}

export const EXAMPLE_REVIEWS: readonly ExampleReview[] = [
  {
    title: "Glowing",
    text:
      "One of the best films I have seen in years. The acting is superb, the script is sharp and funny, " +
      "and the final twenty minutes are genuinely moving. I loved every minute and will happily watch it again.",
  },
  {
    title: "Scathing",
    text:
      "A complete waste of time. The plot makes no sense, the dialogue is painfully bad and the lead actor " +
      "looks bored in every scene. I kept checking my watch. Avoid this mess.",
  },
  {
    title: "Mixed",
    text:
      "The photography is beautiful and the music is lovely, but the story drags badly in the middle and the " +
      "ending feels rushed. Worth seeing for the visuals, not much else.",
  },
  {
    title: "Negations",
    text: "Not bad at all. I didn't expect much, but it was never boring and the cast is far from terrible.",
  },
  {
    title: "Disappointed fan",
    text:
      "I really wanted to like this, since the first film is a favourite of mine. Sadly the sequel is dull, " +
      "predictable and far too long. The jokes fall flat and the characters I cared about are wasted.",
  },
  {
    title: "Short",
    text: "Wonderful. A small masterpiece.",
  },
];
