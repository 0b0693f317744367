import { addMethodTags } from './decorator_support';
import { type AnyMethod, type MethodDecoratorBoth, methodDecorator } from './method_decorator';
import { type TagSpec, validateTagSpecs } from './tag_specs';

/**
 * Adds tags to a method's `@Cacheable` entries: names, functions of `(args, result)`, an entity
 * class (its whole table) or `[Entity, (args) => id]` (one row). Stacking order does not matter.
 */
export function CacheTags(...specs: TagSpec[]): MethodDecoratorBoth {
  validateTagSpecs('CacheTags', specs);
  return methodDecorator('CacheTags', (original: AnyMethod) => {
    addMethodTags(original, specs);
    return original;
  });
}
