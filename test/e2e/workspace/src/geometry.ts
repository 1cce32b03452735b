export interface Rectangle {
  width: number;
  height: number;
}

export interface Circle {
  radius: number;
}

export function rectangleArea(rect: Rectangle): number {
  return rect.width * rect.height;
}

export function rectanglePerimeter(rect: Rectangle): number {
  return 2 * (rect.width + rect.height);
}

export function circleArea(circle: Circle): number {
  return Math.PI * circle.radius * circle.radius;
}
