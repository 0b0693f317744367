/** The tag every cached result about a category carries, so one bump reaches them all. */
export function categoryTag(categoryId: number): string {
  return `category:${categoryId}`;
}
