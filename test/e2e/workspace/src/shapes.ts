import { circleArea, rectangleArea, rectanglePerimeter, type Circle, type Rectangle } from './geometry';

export type Shape = { kind: 'rectangle'; rect: Rectangle } | { kind: 'circle'; circle: Circle };

export function shapeArea(shape: Shape): number {
  switch (shape.kind) {
    case 'rectangle':
      return rectangleArea(shape.rect);
    case 'circle':
      return circleArea(shape.circle);
  }
}

export function totalArea(shapes: Shape[]): number {
  let total = 0;
  for (const shape of shapes) {
    total += shapeArea(shape);
  }
  return total;
}

export function fence(rect: Rectangle): number {
  return rectanglePerimeter(rect);
}
